//! The generated code: a `Drop` impl that ships the marked fields of a value in one
//! hand-off, and a `DropCost` impl, inside one `const _: () = { ... };` block.
//!
//! Tokens taken from the input keep the user's spans, so that rustc reports a field
//! that cannot be deferred (not `Send`, no `Default`, no `DropCost`, a threshold
//! that is not a `usize` constant) on the user's own tokens. Everything else is
//! spanned on the derive and named by absolute path through one alias, `__bgdrop`,
//! for the runtime's hidden `__private` module.

use crate::ast::{Defer, Field, Input, Shape, Source, Variant};
use crate::check;
use crate::ctxt::Ctxt;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, Path};

/// The derive: every error of the input, and the code when it can be generated.
pub(crate) fn derive(node: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let code = Input::from_syn(&cx, node)
        .and_then(|mut input| check::check(&cx, &mut input).then(|| expand(&input)));
    let errors = cx.check();
    quote!(#errors #code)
}

/// A marked field, numbered across the whole type.
struct Marked<'i, 'a> {
    field: &'i Field<'a>,
    /// Its number: names its binding, its threshold and its cost impl.
    index: usize,
    /// `Some` when it is deferred only at or above a threshold.
    threshold: Option<Source>,
}

impl Marked<'_, '_> {
    /// The field's binding in the patterns of the generated code.
    fn binding(&self) -> Ident {
        format_ident!("__field_{}", self.index)
    }

    /// The `bool` that says whether a threshold field is deferred.
    fn decision(&self) -> Ident {
        format_ident!("__defer_{}", self.index)
    }

    /// The constant holding its threshold.
    fn threshold_const(&self) -> Ident {
        match self.threshold {
            Some(Source::Container) => format_ident!("__THRESHOLD"),
            _ => format_ident!("__THRESHOLD_{}", self.index),
        }
    }
}

/// The variants with their marked fields.
struct Plan<'i, 'a> {
    input: &'i Input<'a>,
    variants: Vec<(&'i Variant<'a>, Vec<Marked<'i, 'a>>)>,
}

impl<'i, 'a> Plan<'i, 'a> {
    fn new(input: &'i Input<'a>) -> Self {
        let mut next = 0;
        let variants = input
            .variants()
            .iter()
            .map(|variant| {
                let mut marked = Vec::new();
                for field in &variant.fields {
                    let threshold = match input.defer(field) {
                        Defer::Never => continue,
                        Defer::Always => None,
                        Defer::Threshold(_, source) => Some(source),
                    };
                    marked.push(Marked {
                        field,
                        index: next,
                        threshold,
                    });
                    next += 1;
                }
                (variant, marked)
            })
            .collect();
        Plan { input, variants }
    }

    fn marked(&self) -> impl Iterator<Item = &Marked<'i, 'a>> {
        self.variants.iter().flat_map(|(_, m)| m)
    }

    fn with_marked(&self) -> impl Iterator<Item = &(&'i Variant<'a>, Vec<Marked<'i, 'a>>)> {
        self.variants.iter().filter(|(_, m)| !m.is_empty())
    }

    /// Whether some variant has nothing to defer (it needs a `_` arm).
    fn uncovered(&self) -> bool {
        matches!(self.input.shape, Shape::Enum(_))
            && self.variants.iter().any(|(_, m)| m.is_empty())
    }
}

fn expand(input: &Input<'_>) -> TokenStream {
    let plan = Plan::new(input);
    let alias = runtime_alias(input.attrs.krate.as_ref());
    let cost_trait = cost_trait(&plan);
    let drop_impl = drop_impl(&plan);
    let drop_cost_impl = drop_cost_impl(&plan);
    quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, clippy::all, clippy::pedantic)]
        const _: () = {
            #alias
            #cost_trait
            #drop_impl
            #drop_cost_impl
        };
    }
}

/// `use <crate>::__private as __bgdrop;`, spanned on the user's `crate = PATH` so
/// that a wrong path is reported there.
fn runtime_alias(krate: Option<&Path>) -> TokenStream {
    if let Some(path) = krate {
        let span = path
            .segments
            .last()
            .map_or_else(|| path.span(), |s| s.ident.span());
        quote_spanned!(span=> use #path::__private as __bgdrop;)
    } else {
        quote!(
            use ::bgdrop::__private as __bgdrop;
        )
    }
}

/// `usize`, immune to a user's type named `usize`.
fn usize_ty() -> TokenStream {
    quote!(__bgdrop::core::primitive::usize)
}

/// A private trait with one impl per threshold field, whose associated type is the
/// field's type: the only place that requires `DropCost` of it, so a missing impl is
/// reported once, on the field's type, for both the `Drop` and the `DropCost` impls.
fn cost_trait(plan: &Plan<'_, '_>) -> TokenStream {
    let node = plan.input.original;
    let ident = &node.ident;
    let (impl_generics, ty_generics, where_clause) = node.generics.split_for_impl();
    let usize_ty = usize_ty();
    let impls: Vec<TokenStream> = plan
        .marked()
        .filter(|m| m.threshold.is_some())
        .map(|m| {
            let ty = m.field.ty;
            let index = m.index;
            let field = quote_spanned!(ty.span()=> type __Field = #ty;);
            quote! {
                #[automatically_derived]
                impl #impl_generics __BgdropCost<#index> for #ident #ty_generics #where_clause {
                    #field
                }
            }
        })
        .collect();
    if impls.is_empty() {
        return TokenStream::new();
    }
    quote! {
        trait __BgdropCost<const __N: #usize_ty> {
            type __Field: ?__bgdrop::core::marker::Sized + __bgdrop::DropCost;
            #[inline]
            fn __cost(__field: &Self::__Field) -> #usize_ty {
                __bgdrop::cost(__field)
            }
        }
        #(#impls)*
    }
}

/// `Self { a: __field_0, .. }` or `Self::Variant { 0: __field_0, .. }`.
fn pattern(variant: &Variant<'_>, marked: &[Marked<'_, '_>]) -> TokenStream {
    let members = marked.iter().map(|m| {
        let member = &m.field.member;
        let binding = m.binding();
        quote!(#member: #binding)
    });
    let path = variant
        .ident
        .map_or_else(|| quote!(Self), |ident| quote!(Self::#ident));
    quote!(#path { #(#members,)* .. })
}

/// The thresholds, as constants: rustc checks that each is a `usize` constant, and
/// points at the user's expression when it is not.
fn threshold_consts(plan: &Plan<'_, '_>) -> TokenStream {
    let usize_ty = usize_ty();
    let container_used = plan
        .marked()
        .any(|m| m.threshold == Some(Source::Container));
    let container = plan.input.attrs.threshold.as_ref().map(|t| {
        let expr = &t.expr;
        let name = if container_used {
            quote!(__THRESHOLD)
        } else {
            quote!(_)
        };
        quote_spanned!(expr.span()=> const #name: #usize_ty = #expr;)
    });
    let fields = plan
        .marked()
        .filter_map(|m| match plan.input.defer(m.field) {
            Defer::Threshold(t, Source::Field) => {
                let name = m.threshold_const();
                let expr = &t.expr;
                Some(quote_spanned!(expr.span()=> const #name: #usize_ty = #expr;))
            }
            _ => None,
        });
    quote!(#container #(#fields)*)
}

fn drop_impl(plan: &Plan<'_, '_>) -> TokenStream {
    let node = plan.input.original;
    let ident = &node.ident;
    let (impl_generics, ty_generics, where_clause) = node.generics.split_for_impl();
    let pool = plan.input.attrs.pool.as_ref().map_or_else(
        || quote!(__bgdrop::global()),
        |path| quote_spanned!(path.span()=> __bgdrop::pool(#path)),
    );
    let thresholds = threshold_consts(plan);
    let arms: Vec<TokenStream> = plan
        .with_marked()
        .map(|(variant, marked)| {
            let pattern = pattern(variant, marked);
            let body = ship(marked, &pool);
            quote!(#pattern => { #body })
        })
        .collect();
    let rest = plan.uncovered().then(|| quote!(_ => {}));
    let body = if arms.is_empty() && rest.is_none() {
        // Every marked field was left out after an error: nothing to do.
        TokenStream::new()
    } else {
        quote!(match self { #(#arms)* #rest })
    };
    quote! {
        #[automatically_derived]
        impl #impl_generics __bgdrop::core::ops::Drop for #ident #ty_generics #where_clause {
            // Inlinable across crates: a type defined in a library and dropped
            // elsewhere would otherwise call its `drop` (the threshold checks) out of
            // line, 13 instructions over the plain struct instead of 7 (callgrind,
            // `examples/instructions.rs`, `plain_lib` / `derived_lib`).
            #[inline]
            fn drop(&mut self) {
                #thresholds
                #body
            }
        }
    }
}

/// The body of one `match` arm of `drop`: decide, then (only when something is to
/// be deferred) find the pool, take, ship. A value whose threshold fields are all
/// cheap never touches the pool.
fn ship(marked: &[Marked<'_, '_>], pool: &TokenStream) -> TokenStream {
    let decisions = marked.iter().filter(|m| m.threshold.is_some()).map(|m| {
        let decision = m.decision();
        let binding = m.binding();
        let index = m.index;
        let threshold = m.threshold_const();
        quote! {
            let #decision = <Self as __BgdropCost<#index>>::__cost(#binding) >= #threshold;
        }
    });
    let taken = marked.iter().map(take);

    // The hand-off goes through a function whose type parameters are bounded by
    // `Deferrable` and instantiated with the user's field types, spanned on them: a
    // field that is not `Send + 'static` is reported on its own type, once.
    let params: Vec<Ident> = (0..marked.len())
        .map(|i| format_ident!("__F{}", i))
        .collect();
    let param_tys = marked.iter().zip(&params).map(|(m, p)| {
        if m.threshold.is_some() {
            quote!(__bgdrop::core::option::Option<#p>)
        } else {
            quote!(#p)
        }
    });
    let args = marked.iter().map(|m| {
        let ty = m.field.ty;
        quote_spanned!(ty.span()=> #ty)
    });
    let ship_fn = quote! {
        fn __ship<#(#params: __bgdrop::Deferrable),*>(
            __pool: &__bgdrop::Bgdrop,
            __fields: (#(#param_tys,)*),
        ) {
            __bgdrop::ship(__pool, __fields);
        }
    };

    if marked.iter().any(|m| m.threshold.is_none()) {
        quote! {
            #(#decisions)*
            #ship_fn
            let __pool: &'static __bgdrop::Bgdrop = #pool;
            // On a worker (a value nested in a deferred field), during shutdown, or
            // without a worker, every field drops in place instead.
            if __bgdrop::may_defer(__pool) {
                __ship::<#(#args),*>(__pool, (#(#taken,)*));
            }
        }
    } else {
        // Only threshold fields: no hand-off at all when all of them are cheap, and
        // the hand-off out of line, so that the cheap case stays a few compares.
        // The fields are taken here and moved into the out-of-line call by value: a
        // closure holding references into `self` would make the value's address
        // escape, and rustc would then copy every value of the type onto the stack
        // before dropping it, cheap or not. Every marked field goes, the cheap ones
        // to be dropped inside the call: then nothing the fields' drop glue reads
        // is live across it, the `Drop` needs two saved registers instead of four,
        // and rustc inlines it where it did not (criterion's per-value loop: +1.2
        // instead of +1.8 ns over the plain struct with glibc, the median of twenty
        // alternations).
        let decisions_made: Vec<Ident> = marked.iter().map(Marked::decision).collect();
        let all_taken = marked.iter().map(take_always);
        let vars: Vec<Ident> = marked
            .iter()
            .map(|m| format_ident!("__taken_{}", m.index))
            .collect();
        // A cheap field is not moved: it drops when the call ends.
        let chosen = marked
            .iter()
            .zip(&vars)
            .map(|(m, var)| some_if(&m.decision(), &quote!(#var)));
        quote! {
            #(#decisions)*
            if #(#decisions_made)||* {
                #ship_fn
                let __fields = (#(#all_taken,)*);
                // The decisions are `bool`s: the closure copies them.
                __bgdrop::out_of_line(move || {
                    let (#(#vars,)*) = __fields;
                    let __fields = (#(#chosen,)*);
                    let __pool: &'static __bgdrop::Bgdrop = #pool;
                    if __bgdrop::may_defer(__pool) {
                        __ship::<#(#args),*>(__pool, __fields);
                    }
                });
            }
        }
    }
}

/// Moves one field out: `take` (needs `Default`, reported on the field's type) or
/// `replace` with the user's `replace_with` expression.
fn take_always(m: &Marked<'_, '_>) -> TokenStream {
    let ty = m.field.ty;
    let binding = m.binding();
    if let Some(expr) = &m.field.attrs.replace_with {
        let with = quote_spanned!(ty.span()=> let __with: #ty = #expr;);
        quote!({
            #with
            __bgdrop::replace(#binding, __with)
        })
    } else {
        quote_spanned!(ty.span()=> __bgdrop::take::<#ty>(#binding))
    }
}

/// [`take_always`], as an `Option` for a threshold field: `None` when it is under its
/// threshold, and stays in place.
fn take(m: &Marked<'_, '_>) -> TokenStream {
    let take = take_always(m);
    if m.threshold.is_some() {
        some_if(&m.decision(), &take)
    } else {
        take
    }
}

/// `Some(value)` if `decision`, else `None` (`value` is then not evaluated).
fn some_if(decision: &Ident, value: &TokenStream) -> TokenStream {
    quote! {
        if #decision {
            __bgdrop::core::option::Option::Some(#value)
        } else {
            __bgdrop::core::option::Option::None
        }
    }
}

/// `DropCost` of the type: 1 for the hand-off when the variant in force has an
/// always-deferred field, plus the `drop_cost` of each of its threshold fields.
fn drop_cost_impl(plan: &Plan<'_, '_>) -> TokenStream {
    let node = plan.input.original;
    let ident = &node.ident;
    let (impl_generics, ty_generics, where_clause) = node.generics.split_for_impl();
    let usize_ty = usize_ty();
    let arms: Vec<TokenStream> = plan
        .with_marked()
        .map(|(variant, marked)| {
            let pattern = pattern(variant, marked);
            let hand_off = usize::from(marked.iter().any(|m| m.threshold.is_none()));
            let terms = marked.iter().filter(|m| m.threshold.is_some()).map(|m| {
                let binding = m.binding();
                let index = m.index;
                quote! {
                    __cost = __cost.saturating_add(<Self as __BgdropCost<#index>>::__cost(#binding));
                }
            });
            quote!(#pattern => {
                #[allow(unused_mut)]
                let mut __cost: #usize_ty = #hand_off;
                #(#terms)*
                __cost
            })
        })
        .collect();
    let rest = plan.uncovered().then(|| quote!(_ => 0,));
    let body = if arms.is_empty() && rest.is_none() {
        quote!(0)
    } else {
        quote!(match self { #(#arms)* #rest })
    };
    quote! {
        #[automatically_derived]
        impl #impl_generics __bgdrop::DropCost for #ident #ty_generics #where_clause {
            #[inline]
            fn drop_cost(&self) -> #usize_ty {
                #body
            }
        }
    }
}
