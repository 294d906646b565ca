//! The input as the derive sees it: a typed tree that borrows the syn input, so every
//! node still has the user's tokens to point errors at.

use crate::attr::{self, Threshold};
use crate::ctxt::Ctxt;
use syn::{Data, DeriveInput, Fields, Ident, Index, Member, Type};

/// A struct or enum deriving `BackgroundDrop`.
pub(crate) struct Input<'a> {
    pub(crate) original: &'a DeriveInput,
    pub(crate) attrs: attr::Container,
    pub(crate) shape: Shape<'a>,
}

/// What the type is made of.
pub(crate) enum Shape<'a> {
    Struct(Variant<'a>),
    Enum(Vec<Variant<'a>>),
}

/// The fields of a struct, or of one enum variant.
pub(crate) struct Variant<'a> {
    /// The variant's name; `None` for a struct.
    pub(crate) ident: Option<&'a Ident>,
    pub(crate) fields: Vec<Field<'a>>,
}

/// One field.
pub(crate) struct Field<'a> {
    /// The field's name, or its index in a tuple struct or variant.
    pub(crate) member: Member,
    pub(crate) ty: &'a Type,
    pub(crate) attrs: attr::Field,
    /// Set by [`check`](crate::check) when the field's type can never be deferred
    /// (it borrows, or uses a type parameter without `Send + 'static`): the error is
    /// reported on the user's token, and the expansion leaves the field out so that
    /// rustc does not report it a second time.
    pub(crate) excluded: bool,
}

/// When a field is dropped on a worker.
pub(crate) enum Defer<'b> {
    /// Not marked: dropped in place.
    Never,
    /// `#[bgdrop]` in a type without a threshold: always deferred.
    Always,
    /// Deferred when its drop cost reaches the threshold, the field's own or the
    /// container's.
    Threshold(&'b Threshold, Source),
}

/// Where a field's threshold was written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Field,
    Container,
}

impl<'a> Input<'a> {
    /// Builds the tree, recording attribute errors in `cx`. `None` for a union, which
    /// cannot derive `BackgroundDrop` at all (reported here).
    pub(crate) fn from_syn(cx: &Ctxt, node: &'a DeriveInput) -> Option<Self> {
        let attrs = attr::container(cx, &node.attrs);
        let shape = match &node.data {
            Data::Struct(data) => Shape::Struct(Variant {
                ident: None,
                fields: fields(cx, &data.fields),
            }),
            Data::Enum(data) => Shape::Enum(
                data.variants
                    .iter()
                    .map(|v| {
                        attr::variant(cx, &v.attrs);
                        Variant {
                            ident: Some(&v.ident),
                            fields: fields(cx, &v.fields),
                        }
                    })
                    .collect(),
            ),
            Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "`#[derive(BackgroundDrop)]` cannot be used on a union: which field is \
                     in use is unknown, so none can be taken out safely; use an enum, \
                     or a struct holding the union",
                );
                return None;
            }
        };
        Some(Input {
            original: node,
            attrs,
            shape,
        })
    }

    /// Every field of every variant, to update.
    pub(crate) fn all_fields_mut(&mut self) -> impl Iterator<Item = &mut Field<'a>> {
        let variants = match &mut self.shape {
            Shape::Struct(v) => std::slice::from_mut(v),
            Shape::Enum(vs) => vs.as_mut_slice(),
        };
        variants.iter_mut().flat_map(|v| &mut v.fields)
    }

    /// The struct's fields, or the enum's variants.
    pub(crate) fn variants(&self) -> &[Variant<'a>] {
        match &self.shape {
            Shape::Struct(v) => std::slice::from_ref(v),
            Shape::Enum(vs) => vs,
        }
    }

    /// Every field of every variant.
    pub(crate) fn all_fields(&self) -> impl Iterator<Item = &Field<'a>> {
        self.variants().iter().flat_map(|v| &v.fields)
    }

    /// When `field` is deferred, given the container's default threshold.
    pub(crate) fn defer<'b>(&'b self, field: &'b Field<'a>) -> Defer<'b> {
        if field.attrs.marked.is_none() || field.excluded {
            return Defer::Never;
        }
        match (&field.attrs.threshold, &self.attrs.threshold) {
            (Some(own), _) => Defer::Threshold(own, Source::Field),
            (None, Some(default)) => Defer::Threshold(default, Source::Container),
            (None, None) => Defer::Always,
        }
    }
}

fn fields<'a>(cx: &Ctxt, fields: &'a Fields) -> Vec<Field<'a>> {
    fields
        .iter()
        .enumerate()
        .map(|(i, field)| Field {
            member: match &field.ident {
                Some(ident) => Member::Named(ident.clone()),
                None => Member::Unnamed(Index::from(i)),
            },
            ty: &field.ty,
            attrs: attr::field(cx, &field.attrs),
            excluded: false,
        })
        .collect()
}
