//! Items written as one key, their kind, over the kind's value, one per list item:
//! `- click: "#pay"`, `- http: {...}`, `- webhook: {...}`. Actions, probes and sinks are all
//! declared with `one_key_enum!`, so they read and fail alike.

/// How the messages of one family of items talk about them.
pub struct Family {
    /// `action`, `probe`, `sink`.
    pub what: &'static str,
    /// A whole item, for the message about an empty one: `- webhook: {url: ...}`.
    pub example: &'static str,
    /// What a kind written alone lacks, `{kind}` replaced: "its settings: `- {kind}: {...}`".
    pub needs: &'static str,
    /// Whether an item's value is a map of settings (a second key may belong under the
    /// first) or a single argument.
    pub settings: bool,
}

impl Family {
    pub fn empty(&self) -> String {
        format!(
            "empty {what}: write one {what} per list item, e.g. `{}`",
            self.example,
            what = self.what
        )
    }

    pub fn two_keys(&self, kind: &str, extra: &str) -> String {
        let what = self.what;
        if self.settings {
            format!("one {what} per list item: `{kind}` and `{extra}` are in the same item; indent `{extra}` under `{kind}:` if it is a setting, or start a new item with `- `")
        } else {
            format!("one {what} per list item: `{kind}` and `{extra}` are in the same item; start `{extra}` on its own line with `- `")
        }
    }

    pub fn alone(&self, kind: &str) -> String {
        format!(
            "{} `{kind}` needs {}",
            self.what,
            self.needs.replace("{kind}", kind)
        )
    }
}

/// Declares an enum of kinds, its list of names and its deserialization from one key:
///
/// ```text
/// one_key_enum! {
///     /// One probe as written.
///     pub enum ProbeFile, PROBE_KINDS, FAMILY {
///         Http(HttpProbeFile) = "http",
///         Tls(TlsProbeFile) = "tls",
///     }
/// }
/// ```
///
/// `FAMILY` is a [`Family`] in scope. An unknown kind is serde's `unknown variant`, with every
/// name the enum has.
macro_rules! one_key_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident, $names:ident, $family:path {
        $($(#[$vmeta:meta])* $variant:ident($ty:ty) = $key:literal),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug)]
        $vis enum $name { $($(#[$vmeta])* $variant($ty),)* }

        /// Every kind, as written.
        $vis const $names: &[&str] = &[$($key),*];

        impl $name {
            /// The kind as written.
            pub fn kind(&self) -> &'static str {
                match self { $($name::$variant(_) => $key,)* }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                use serde::de::{self, MapAccess, Visitor};
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        write!(f, "a {} such as `{}`", $family.what, $family.example.trim_start_matches("- "))
                    }
                    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<$name, M::Error> {
                        let Some(kind) = map.next_key::<String>()? else {
                            return Err(de::Error::custom($family.empty()));
                        };
                        let item = match kind.as_str() {
                            $($key => $name::$variant(map.next_value()?),)*
                            other => return Err(de::Error::unknown_variant(other, $names)),
                        };
                        if let Some(extra) = map.next_key::<String>()? {
                            return Err(de::Error::custom($family.two_keys(item.kind(), &extra)));
                        }
                        Ok(item)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        if $names.contains(&v) {
                            Err(E::custom($family.alone(v)))
                        } else {
                            Err(E::unknown_variant(v, $names))
                        }
                    }
                }
                deserializer.deserialize_any(V)
            }
        }
    };
}

pub(crate) use one_key_enum;
