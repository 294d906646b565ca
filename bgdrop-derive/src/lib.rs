//! `#[derive(BackgroundDrop)]` for the [`bgdrop`](https://docs.rs/bgdrop) crate.
//!
//! Use it through `bgdrop::BackgroundDrop`, where its manual is; this crate is an
//! implementation detail, pinned by `bgdrop` to its exact version.

mod ast;
mod attr;
mod check;
mod ctxt;
mod expand;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Drops the marked fields of a type on a background thread.
///
/// The generated `Drop` impl moves the fields marked `#[bgdrop]` out of the value
/// and hands them to a [`Bgdrop`] pool in **one** hand-off per value, however many
/// fields are marked; the pool's worker drops them there. Unmarked fields, and
/// threshold fields that are cheap to drop, drop in place as usual.
///
/// ```
/// use bgdrop::BackgroundDrop;
/// use std::collections::HashMap;
///
/// #[derive(BackgroundDrop)]
/// struct Index {
///     name: String,                     // dropped in place
///     #[bgdrop]
///     postings: Vec<Vec<u32>>,          // always dropped on a worker
///     #[bgdrop(threshold = 1024)]
///     terms: HashMap<String, u32>,      // on a worker when its DropCost >= 1024
/// }
///
/// let index = Index {
///     name: "docs".into(),
///     postings: vec![vec![1, 2, 3]; 100_000],
///     terms: HashMap::new(),
/// };
/// drop(index); // returns at once: 100 001 allocations are freed on a worker
/// ```
///
/// # Attributes
///
/// | attribute | where | meaning |
/// |---|---|---|
/// | `#[bgdrop]` | field | Defer the field (above the container's `threshold`, if it has one; otherwise always). |
/// | `#[bgdrop(threshold = N)]` | field | Defer the field when its [`DropCost`] is at least `N`; drop it in place otherwise. `N` is any `usize` constant expression: `4096`, `64 * 1024`, `MY_LIMIT`. `threshold = 0` always defers. |
/// | `#[bgdrop(replace_with = EXPR)]` | field | Leave `EXPR` in the field instead of `Default::default()`, for types without [`Default`]. Combines with `threshold`. `EXPR` is evaluated only when the field is deferred. |
/// | `#[bgdrop(threshold = N)]` | struct or enum | The threshold of its `#[bgdrop]` fields that give none. |
/// | `#[bgdrop(pool = PATH)]` | struct or enum | Use the pool returned by `PATH`, a `fn() -> &'static Bgdrop`, instead of the [global](../bgdrop/fn.global.html) one. |
/// | `#[bgdrop(crate = PATH)]` | struct or enum | Where the `bgdrop` crate is, when it is renamed or re-exported: `crate = my_runtime::bgdrop` or `crate = "my_runtime::bgdrop"`. |
///
/// Keys can be combined in one attribute (`#[bgdrop(threshold = 64, replace_with =
/// Vec::new())]`) or split across several.
///
/// # Requirements on marked fields
///
/// - **`Send + 'static`**: the field moves to another thread. A field type that
///   uses a type parameter needs the bound on the type itself
///   (`struct Cache<T: Send + 'static>`), because a `Drop` impl cannot require more
///   than the type it is for.
/// - **`Default`**, or a `replace_with`: the field is moved out with
///   [`core::mem::take`], which leaves the default value behind (dropped in place
///   later; for `Vec`, `String`, `HashMap`, `Option` and `Box<[T]>` that costs
///   nothing). `Option<Box<Tree>>` is the usual way to defer a type without a
///   default.
/// - **[`DropCost`]**, only for fields with a threshold. Always-deferred fields
///   need no estimate. Implement it for your own types, or derive
///   `BackgroundDrop`, which implements it (see below).
///
/// # What the expansion looks like
///
/// For the `Index` above, roughly (paths shortened):
///
/// ```ignore
/// const _: () = {
///     use ::bgdrop::__private as __bgdrop;
///
///     #[automatically_derived]
///     impl Drop for Index {
///         fn drop(&mut self) {
///             const __THRESHOLD_1: usize = 1024;
///             let Self { postings: __field_0, terms: __field_1, .. } = self;
///             let __defer_1 = cost(__field_1) >= __THRESHOLD_1;
///             // (A type whose marked fields all have thresholds checks them first
///             // and touches the pool only when one of them is costly: it then
///             // takes all of them and moves them into one out-of-line call that
///             // finds the pool, checks `may_defer`, ships the costly ones and
///             // drops the others.)
///             let __pool = __bgdrop::global();     // or `__bgdrop::pool(PATH)`
///             // On a worker, during shutdown, or without a worker, `may_defer` is
///             // false and every field drops in place.
///             if __bgdrop::may_defer(__pool) {
///                 __ship::<Vec<Vec<u32>>, HashMap<String, u32>>(__pool, (
///                     __bgdrop::take(__field_0),
///                     if __defer_1 { Some(__bgdrop::take(__field_1)) } else { None },
///                 ));
///             }
///         }
///     }
///
///     #[automatically_derived]
///     impl DropCost for Index { /* see below */ }
/// };
/// ```
///
/// Enums `match` on `self`: the variant in force decides which fields are deferred,
/// and a variant without marked fields does nothing. The expansion uses no `unsafe`,
/// copies the type's generics and `where` clause unchanged, names everything by
/// absolute path (it compiles under `#![no_implicit_prelude]`), and is clean under
/// `#![deny(warnings, clippy::pedantic, missing_docs, unused_qualifications)]`.
///
/// # The derived `DropCost`
///
/// The derive also implements [`DropCost`] for the type, so that derived types
/// compose under `threshold` in other derived types. The estimate is what dropping
/// a value costs the thread that drops it, for the variant in force:
///
/// - **1** for the hand-off, if the variant has an always-deferred field (however
///   many; their own cost is paid by the worker, and their types need not implement
///   `DropCost`);
/// - plus the [`DropCost`] of each of its threshold fields (an upper bound: those
///   above their threshold are deferred too);
/// - unmarked fields count 0.
///
/// A type that needs another estimate cannot derive `BackgroundDrop` and implement
/// `DropCost` itself (the impls would conflict); wrap it instead.
///
/// # What changes about drop order
///
/// Rust drops a value's fields in declaration order, right away. With this derive:
///
/// - the deferred fields are dropped **later, on another thread**, in no fixed order
///   with the code that follows the drop; the other fields drop in place, in order,
///   when `drop` returns;
/// - a deferred field is dropped after the value's other fields, not before them;
/// - deferred fields must not own anything whose release must happen at a known
///   point: lock guards, files that must be flushed before they are read back,
///   channels whose closing signals something;
/// - on a bgdrop worker thread (a value nested in a deferred field of another), when
///   the pool is shutting down, or when it has no worker, every field drops right
///   there, on that thread, in declaration order as without the derive, with one
///   exception: in a type whose marked fields all have a threshold, the marked
///   fields have already been moved out to be handed over when this is found out,
///   and they drop just before the others (checking first would cost every cheap
///   drop of such a type). Nesting never queues a value again, so it cannot
///   deadlock a full pool;
/// - in a type whose marked fields all have a threshold, a value with any of them
///   over its threshold has all of them moved out at once: those under their
///   threshold drop right away on the dropping thread, just before the value's
///   unmarked fields, and a `replace_with` expression is evaluated for each. A
///   value whose marked fields are all under their thresholds is untouched: its
///   fields drop in place, in order;
/// - when the pool's queue is full, its [`FullPolicy`] decides: by default the
///   fields are dropped right there by the caller.
///
/// `Bgdrop::flush` waits until everything handed over before it has been dropped.
///
/// # Errors you may meet
///
/// Each error points at the token to change.
///
/// | mistake | what the compiler says |
/// |---|---|
/// | deriving on a `union` or a `#[repr(packed)]` type | cannot be used on a union / packed type |
/// | no field marked | no field of `T` is marked `#[bgdrop]` |
/// | `#[bgdrop(treshold = 64)]` | unknown key `treshold`; did you mean `threshold`? |
/// | a key given twice, or `#[bgdrop]` twice on a field | duplicate ... |
/// | `threshold = "64"`, `-1`, `1.5`, `64u32`, a `u32` constant, a non-`const fn` | a message on the literal or rustc's type or const error on the expression |
/// | `pool`/`crate` on a field, `replace_with` or a bare `#[bgdrop]` on the type, `#[bgdrop]` on a variant | says where the attribute goes |
/// | a marked field that is not `Send` (`Rc<_>`) | `` `Rc<..>` cannot be dropped on a bgdrop worker thread: it is not `Send` `` |
/// | a marked field that borrows (`&'a str`) | a `#[bgdrop]` field must be `'static` |
/// | a type parameter in a marked field without `Send + 'static` | add the bound on the type itself |
/// | a marked field without `Default` and no `replace_with` | `` `T` has no `Default` value to leave behind ``, suggesting `Option<_>` or `replace_with` |
/// | `threshold` on a type without `DropCost` | `` `T` does not implement `bgdrop::DropCost` ``, with how to implement it |
/// | `pool = f` where `f` is not a `fn() -> &'static Bgdrop` | expected fn pointer `fn() -> &'static Bgdrop` |
/// | `crate = PATH` that is not the bgdrop crate | unresolved import, on the path |
/// | your own `impl Drop` beside the derive | ``conflicting implementations of trait `Drop` `` (E0119) |
///
/// The last one deserves a word: the derive *is* the type's `Drop` impl. To run code
/// of your own when the value drops, put it in a field's type (a guard whose `Drop`
/// does it) or defer explicitly with `Bgdrop::drop` from your own `Drop` impl
/// instead of deriving.
///
/// Several mistakes in one type are all reported in one build.
///
/// [`Bgdrop`]: ../bgdrop/struct.Bgdrop.html
/// [`DropCost`]: ../bgdrop/trait.DropCost.html
/// [`FullPolicy`]: ../bgdrop/enum.FullPolicy.html
#[proc_macro_derive(BackgroundDrop, attributes(bgdrop))]
pub fn derive_background_drop(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
