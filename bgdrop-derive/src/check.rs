//! What the derive rejects before writing any code: mistakes that rustc would report
//! obscurely, or in generated code, if they reached it.

use crate::ast::Input;
use crate::ctxt::Ctxt;
use std::collections::BTreeSet;
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{GenericParam, Generics, Ident, Lifetime, Meta, Type, TypeParamBound, TypePath};

/// Records every problem of `input` in `cx`. Returns whether code can still be
/// generated for it (some mistakes make any expansion meaningless).
pub(crate) fn check(cx: &Ctxt, input: &mut Input<'_>) -> bool {
    let packed = check_repr(cx, input);
    let marked = check_marked(cx, input);
    check_deferrable(cx, input);
    !packed && marked
}

/// `#[repr(packed)]`: its fields may be unaligned, so they cannot be borrowed to be
/// taken out. Returns whether the type is packed.
fn check_repr(cx: &Ctxt, input: &Input<'_>) -> bool {
    let mut packed = false;
    for attr in &input.original.attrs {
        if !attr.path().is_ident("repr") {
            continue;
        }
        let Ok(list) = attr.parse_args_with(Punctuated::<Meta, syn::Token![,]>::parse_terminated)
        else {
            continue;
        };
        for meta in list {
            if meta.path().is_ident("packed") {
                packed = true;
                cx.error_spanned_by(
                    meta.path(),
                    "`#[derive(BackgroundDrop)]` cannot be used on a `#[repr(packed)]` type: \
                     its fields may be unaligned, so they cannot be borrowed to be taken out; \
                     remove `packed`, or derive on a struct that holds the packed one",
                );
            }
        }
    }
    packed
}

/// A derive with nothing to defer is a mistake: say which attribute is missing.
/// Returns whether some field is marked.
fn check_marked(cx: &Ctxt, input: &Input<'_>) -> bool {
    if input.all_fields().any(|f| f.attrs.marked.is_some()) {
        return true;
    }
    let ident = &input.original.ident;
    let what = if input.all_fields().next().is_none() {
        format!(
            "`{ident}` has no fields, so `#[derive(BackgroundDrop)]` has nothing to \
             drop in the background; remove the derive"
        )
    } else {
        format!(
            "no field of `{ident}` is marked `#[bgdrop]`, so `#[derive(BackgroundDrop)]` \
             would defer nothing; mark the fields to drop in the background, such as \
             `#[bgdrop] big: Vec<Vec<u8>>`, or remove the derive"
        )
    };
    cx.error_spanned_by(ident, what);
    false
}

/// Std traits that do not imply `Send`: a type parameter bounded only by these is
/// certainly not `Send`. A parameter with any other bound may be `Send` through a
/// supertrait, which only rustc can tell.
const NOT_SEND_TRAITS: &[&str] = &[
    "AsMut",
    "AsRef",
    "Borrow",
    "Clone",
    "Copy",
    "Debug",
    "Default",
    "Display",
    "Eq",
    "From",
    "Hash",
    "Into",
    "IntoIterator",
    "Iterator",
    "Ord",
    "PartialEq",
    "PartialOrd",
    "Sized",
    "Sync",
    "ToString",
    "Unpin",
];

/// What the type's own generics say about one type parameter.
#[derive(Default)]
struct ParamBounds {
    send: bool,
    static_: bool,
    /// Bounded by a trait that might have `Send + 'static` as supertraits.
    unknown: bool,
}

/// A marked field whose type borrows (a lifetime other than `'static`) or uses a type
/// parameter that certainly lacks `Send` or `'static` can never be deferred: the
/// generated `Drop` would fail to compile in a way rustc reports on generated code,
/// or suggests fixing on the `Drop` impl, which cannot have bounds the type lacks.
/// Report it on the user's token instead, and leave the field out of the expansion.
fn check_deferrable(cx: &Ctxt, input: &mut Input<'_>) {
    let generics = &input.original.generics;
    let ident = &input.original.ident;
    let static_lifetimes = static_lifetimes(generics);
    let type_params: Vec<&Ident> = generics.type_params().map(|p| &p.ident).collect();
    for field in input.all_fields_mut() {
        if field.attrs.marked.is_none() {
            continue;
        }
        let mut found = Found {
            params: &type_params,
            ..Found::default()
        };
        found.visit_type(field.ty);
        let mut excluded = false;
        if let Some(lifetime) = found
            .lifetimes
            .iter()
            .find(|l| l.ident != "static" && !static_lifetimes.contains(&l.ident))
        {
            cx.error_spanned_by(
                lifetime,
                format_args!(
                    "a `#[bgdrop]` field must be `'static`, but this one borrows for `{lifetime}`: \
                     it would be dropped on another thread after `{lifetime}` may have ended; \
                     leave the field unmarked, or make it own its data"
                ),
            );
            excluded = true;
        }
        let mut reported = BTreeSet::new();
        for param in &found.uses {
            let name = *param;
            if !reported.insert(name.to_string()) {
                continue;
            }
            let bounds = param_bounds(generics, name);
            if bounds.unknown || (bounds.send && bounds.static_) {
                continue;
            }
            let missing = match (bounds.send, bounds.static_) {
                (false, false) => "Send + 'static",
                (false, true) => "Send",
                _ => "'static",
            };
            cx.error_spanned_by(
                param,
                format_args!(
                    "type parameter `{name}` is used in a `#[bgdrop]` field, so it must be \
                     `Send + 'static`: add `{missing}` to its bounds on the type itself, \
                     `{ident}<{name}: {missing}>`; the bound cannot go on the generated \
                     `Drop` impl, which may not require more than the type does"
                ),
            );
            excluded = true;
        }
        field.excluded = excluded;
    }
}

/// Lifetime parameters declared to outlive `'static` (`'a: 'static`).
fn static_lifetimes(generics: &Generics) -> BTreeSet<Ident> {
    let mut out = BTreeSet::new();
    for param in generics.lifetimes() {
        if param.bounds.iter().any(|b| b.ident == "static") {
            out.insert(param.lifetime.ident.clone());
        }
    }
    if let Some(where_clause) = &generics.where_clause {
        for predicate in &where_clause.predicates {
            if let syn::WherePredicate::Lifetime(p) = predicate {
                if p.bounds.iter().any(|b| b.ident == "static") {
                    out.insert(p.lifetime.ident.clone());
                }
            }
        }
    }
    out
}

/// The bounds of type parameter `name`, inline and in the `where` clause.
fn param_bounds(generics: &Generics, name: &Ident) -> ParamBounds {
    fn add(out: &mut ParamBounds, bounds: &Punctuated<TypeParamBound, syn::Token![+]>) {
        for bound in bounds {
            match bound {
                TypeParamBound::Lifetime(l) => out.static_ |= l.ident == "static",
                TypeParamBound::Trait(t) => {
                    if let syn::TraitBoundModifier::Maybe(_) = t.modifier {
                        continue;
                    }
                    match t.path.segments.last().map(|s| s.ident.to_string()) {
                        Some(last) if last == "Send" => out.send = true,
                        Some(last) if NOT_SEND_TRAITS.contains(&last.as_str()) => {}
                        _ => out.unknown = true,
                    }
                }
                _ => out.unknown = true,
            }
        }
    }
    let mut out = ParamBounds::default();
    for param in &generics.params {
        if let GenericParam::Type(p) = param {
            if p.ident == *name {
                add(&mut out, &p.bounds);
            }
        }
    }
    if let Some(where_clause) = &generics.where_clause {
        for predicate in &where_clause.predicates {
            if let syn::WherePredicate::Type(p) = predicate {
                match &p.bounded_ty {
                    Type::Path(TypePath { qself: None, path }) if path.is_ident(name) => {
                        add(&mut out, &p.bounds);
                    }
                    // A bound on a type built from the parameter (`Vec<T>: Send`)
                    // may be what makes the field deferrable.
                    ty if mentions(ty, name) => out.unknown = true,
                    _ => {}
                }
            }
        }
    }
    out
}

/// Whether `ty` names the type parameter `name` anywhere.
fn mentions(ty: &Type, name: &Ident) -> bool {
    let params = [name];
    let mut found = Found {
        params: &params,
        ..Found::default()
    };
    found.visit_type(ty);
    !found.uses.is_empty()
}

/// The lifetimes and type parameters a field type names.
#[derive(Default)]
struct Found<'p, 'ast> {
    params: &'p [&'p Ident],
    lifetimes: Vec<&'ast Lifetime>,
    uses: Vec<&'ast Ident>,
}

impl<'ast> Visit<'ast> for Found<'_, 'ast> {
    fn visit_lifetime(&mut self, lifetime: &'ast Lifetime) {
        self.lifetimes.push(lifetime);
    }

    fn visit_type_path(&mut self, ty: &'ast TypePath) {
        if ty.qself.is_none() {
            if let Some(ident) = ty.path.get_ident() {
                if self.params.contains(&ident) {
                    self.uses.push(ident);
                }
            }
        }
        visit::visit_type_path(self, ty);
    }
}
