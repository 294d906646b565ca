//! The `#[bgdrop(...)]` attributes: what each key means and how it is parsed.
//!
//! Every mistake is recorded in the [`Ctxt`] and parsing goes on, so that one build
//! reports every wrong key of every attribute.

use crate::ctxt::Ctxt;
use proc_macro2::{Span, TokenTree};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, ExprUnary, Lit, LitStr, Meta, Path, Token, UnOp};

/// The keys a `#[bgdrop(...)]` on a struct or enum accepts.
const CONTAINER_KEYS: &[&str] = &["threshold", "pool", "crate"];
/// The keys a `#[bgdrop(...)]` on a field accepts.
const FIELD_KEYS: &[&str] = &["threshold", "replace_with"];

/// A `threshold = N`: the user's expression, which keeps its spans.
pub(crate) struct Threshold {
    pub(crate) expr: Expr,
}

/// The attributes of the struct or enum.
#[derive(Default)]
pub(crate) struct Container {
    /// `threshold = N`: the default threshold of its `#[bgdrop]` fields.
    pub(crate) threshold: Option<Threshold>,
    /// `pool = PATH`: a `fn() -> &'static Bgdrop`.
    pub(crate) pool: Option<Path>,
    /// `crate = PATH`: where the runtime crate is.
    pub(crate) krate: Option<Path>,
}

/// The attributes of one field.
#[derive(Default)]
pub(crate) struct Field {
    /// The first `#[bgdrop...]` attribute on the field, if any: the field is deferred.
    pub(crate) marked: Option<Span>,
    /// `threshold = N`.
    pub(crate) threshold: Option<Threshold>,
    /// `replace_with = EXPR`.
    pub(crate) replace_with: Option<Expr>,
}

fn is_bgdrop(attr: &Attribute) -> bool {
    attr.path().is_ident("bgdrop")
}

/// Parses the attributes of the struct or enum.
pub(crate) fn container(cx: &Ctxt, attrs: &[Attribute]) -> Container {
    let mut out = Container::default();
    for attr in attrs.iter().filter(|a| is_bgdrop(a)) {
        match &attr.meta {
            Meta::Path(path) => cx.error_spanned_by(
                path,
                "`#[bgdrop]` without arguments marks a field to defer, not a type; \
                 put it on the fields to drop in the background",
            ),
            Meta::NameValue(nv) => cx.error_spanned_by(
                nv.eq_token,
                "expected `#[bgdrop(key = value)]`, with `threshold`, `pool` or `crate`",
            ),
            Meta::List(_) => {
                let parsed = attr.parse_nested_meta(|meta| {
                    let key = key_name(&meta);
                    match key.as_str() {
                        "threshold" => {
                            let t = threshold(cx, &meta)?;
                            set_once(cx, &meta, &mut out.threshold, t);
                        }
                        "pool" => {
                            let p = path_value(cx, &meta, "pool", "my_pool")?;
                            set_once(cx, &meta, &mut out.pool, p);
                        }
                        "crate" => {
                            let p = path_value(cx, &meta, "crate", "::bgdrop")?;
                            set_once(cx, &meta, &mut out.krate, p);
                        }
                        "replace_with" => {
                            cx.error_spanned_by(
                                &meta.path,
                                "`replace_with` is a field attribute: put \
                                 `#[bgdrop(replace_with = EXPR)]` on the field it replaces",
                            );
                            skip_value(&meta)?;
                        }
                        _ => {
                            unknown_key(cx, &meta, &key, CONTAINER_KEYS, "a struct or enum");
                            skip_value(&meta)?;
                        }
                    }
                    Ok(())
                });
                if let Err(e) = parsed {
                    cx.syn_error(e);
                }
            }
        }
    }
    out
}

/// Parses the attributes of one field.
pub(crate) fn field(cx: &Ctxt, attrs: &[Attribute]) -> Field {
    let mut out = Field::default();
    for attr in attrs.iter().filter(|a| is_bgdrop(a)) {
        match &attr.meta {
            Meta::Path(path) => {
                if out.marked.is_some() {
                    cx.error_spanned_by(
                        attr,
                        "duplicate `#[bgdrop]`: this field is already marked; \
                         remove one of the attributes",
                    );
                }
                out.marked.get_or_insert(path.span());
            }
            Meta::NameValue(nv) => {
                cx.error_spanned_by(
                    nv.eq_token,
                    "expected `#[bgdrop]` or `#[bgdrop(key = value)]`, \
                     with `threshold` or `replace_with`",
                );
                out.marked.get_or_insert(nv.path.span());
            }
            Meta::List(list) => {
                out.marked.get_or_insert(list.path.span());
                let parsed = attr.parse_nested_meta(|meta| {
                    let key = key_name(&meta);
                    match key.as_str() {
                        "threshold" => {
                            let t = threshold(cx, &meta)?;
                            set_once(cx, &meta, &mut out.threshold, t);
                        }
                        "replace_with" => {
                            let e = expr_value(cx, &meta, "replace_with", "Vec::new()")?;
                            set_once(cx, &meta, &mut out.replace_with, e);
                        }
                        "pool" | "crate" => {
                            cx.error_spanned_by(
                                &meta.path,
                                format_args!(
                                    "`{key}` applies to the whole type, not to one field: \
                                     put `#[bgdrop({key} = ...)]` on the struct or enum"
                                ),
                            );
                            skip_value(&meta)?;
                        }
                        _ => {
                            unknown_key(cx, &meta, &key, FIELD_KEYS, "a field");
                            skip_value(&meta)?;
                        }
                    }
                    Ok(())
                });
                if let Err(e) = parsed {
                    cx.syn_error(e);
                }
            }
        }
    }
    out
}

/// Rejects `#[bgdrop]` on an enum variant, which has no meaning.
pub(crate) fn variant(cx: &Ctxt, attrs: &[Attribute]) {
    for attr in attrs.iter().filter(|a| is_bgdrop(a)) {
        cx.error_spanned_by(
            attr,
            "`#[bgdrop]` goes on the fields of a variant, not on the variant itself",
        );
    }
}

/// The key as written, `r#` stripped; `crate` is a keyword, hence not `get_ident`.
fn key_name(meta: &ParseNestedMeta<'_>) -> String {
    let mut name = String::new();
    for (i, segment) in meta.path.segments.iter().enumerate() {
        if i > 0 {
            name.push_str("::");
        }
        name.push_str(&syn::ext::IdentExt::unraw(&segment.ident).to_string());
    }
    name
}

/// Stores `value` in `slot` unless a value is already there.
fn set_once<T>(cx: &Ctxt, meta: &ParseNestedMeta<'_>, slot: &mut Option<T>, value: Option<T>) {
    let Some(value) = value else { return };
    if slot.is_some() {
        let key = key_name(meta);
        cx.error_spanned_by(
            &meta.path,
            format_args!("duplicate `{key}`: give it once and remove the other"),
        );
    } else {
        *slot = Some(value);
    }
}

/// `= <expression>`, or an error saying how to write it.
fn expr_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    key: &str,
    example: &str,
) -> syn::Result<Option<Expr>> {
    if !meta.input.peek(Token![=]) {
        cx.error_spanned_by(
            &meta.path,
            format_args!("`{key}` needs a value: `{key} = {example}`"),
        );
        skip_value(meta)?;
        return Ok(None);
    }
    Ok(Some(meta.value()?.parse()?))
}

/// `threshold = N`, rejecting at once the literals that cannot be a `usize`.
fn threshold(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Threshold>> {
    let Some(expr) = expr_value(cx, meta, "threshold", "64")? else {
        return Ok(None);
    };
    let problem = match &expr {
        Expr::Lit(ExprLit { lit, .. }) => match lit {
            Lit::Int(int) if !matches!(int.suffix(), "" | "usize") => Some(format!(
                "`threshold` is a `usize`: write `{}` without the `{}` suffix",
                int.base10_digits(),
                int.suffix()
            )),
            Lit::Int(_) => None,
            Lit::Str(s) => Some(format!(
                "`threshold` takes a `usize` constant, not a string: write `threshold = {}`",
                s.value()
            )),
            Lit::Float(_) => Some(
                "`threshold` takes a whole number of allocations (a `usize`), not a float"
                    .to_owned(),
            ),
            _ => Some(
                "`threshold` takes a `usize` constant expression, such as `64`, \
                 `64 * 1024` or `MY_LIMIT`"
                    .to_owned(),
            ),
        },
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_), ..
        }) => {
            Some("`threshold` cannot be negative: it counts allocations, as a `usize`".to_owned())
        }
        _ => None,
    };
    if let Some(problem) = problem {
        cx.error_spanned_by(&expr, problem);
        return Ok(None);
    }
    Ok(Some(Threshold { expr }))
}

/// `= path` or `= "path"`.
fn path_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    key: &str,
    example: &str,
) -> syn::Result<Option<Path>> {
    if !meta.input.peek(Token![=]) {
        cx.error_spanned_by(
            &meta.path,
            format_args!("`{key}` needs a value: `{key} = {example}`"),
        );
        skip_value(meta)?;
        return Ok(None);
    }
    let input = meta.value()?;
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        if let Ok(path) = lit.parse_with(Path::parse_mod_style) {
            return Ok(Some(path));
        }
        cx.error_spanned_by(
            &lit,
            format_args!("`{key}` takes a path, such as `{example}`"),
        );
        return Ok(None);
    }
    let fork = input.fork();
    if fork.parse::<Path>().is_ok() && (fork.is_empty() || fork.peek(Token![,])) {
        return Ok(Some(input.parse()?));
    }
    let rest: Expr = input.parse()?;
    cx.error_spanned_by(
        &rest,
        format_args!("`{key}` takes a path, such as `{example}`"),
    );
    Ok(None)
}

/// Consumes whatever follows an unusable key, so that parsing goes on after it.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        let _: Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _: TokenTree = meta.input.parse()?;
    }
    Ok(())
}

/// An unknown key: a did-you-mean for a near miss, otherwise the list of keys.
fn unknown_key(cx: &Ctxt, meta: &ParseNestedMeta<'_>, key: &str, keys: &[&str], place: &str) {
    let closest = keys
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|&(d, k)| d <= 2.max(k.len() / 3) || (key.len() >= 4 && k.starts_with(key)))
        .min();
    let message = match closest {
        Some((_, k)) => format!("unknown `#[bgdrop]` key `{key}`; did you mean `{k}`?"),
        None => format!(
            "unknown `#[bgdrop]` key `{key}` on {place}; expected {}",
            list(keys)
        ),
    };
    cx.error_spanned_by(&meta.path, message);
}

/// "`a`, `b` or `c`".
fn list(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Levenshtein distance between two short keys.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::edit_distance;

    #[test]
    fn near_misses_are_close() {
        assert_eq!(edit_distance("treshold", "threshold"), 1);
        assert_eq!(edit_distance("replace", "replace_with"), 5);
        assert_eq!(edit_distance("pol", "pool"), 1);
        assert_eq!(edit_distance("", "crate"), 5);
    }
}
