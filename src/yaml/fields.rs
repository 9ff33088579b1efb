//! The keys a serde struct takes, read from the struct itself: serde hands its field names to
//! `deserialize_struct`, and this deserializer only listens for them. So the lists that must
//! match a struct (the monitor's top-level keys, the documented keys the README test checks)
//! are never kept by hand.

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// The field names of `T`, as written in YAML (after renames); empty if `T` is not a struct.
pub fn struct_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

struct FieldNames<'a>(&'a mut &'static [&'static str]);

/// Never a value: deserialization stops as soon as the names are known.
#[derive(Debug)]
struct Listened;

impl std::fmt::Display for Listened {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("only the field names are read")
    }
}

impl std::error::Error for Listened {}

impl de::Error for Listened {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Listened
    }
}

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = Listened;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Listened> {
        *self.0 = fields;
        Err(Listened)
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Listened> {
        Err(Listened)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Example {
        listen: String,
        #[serde(rename = "do")]
        actions: Vec<String>,
    }

    #[test]
    fn reads_the_names_serde_uses() {
        assert_eq!(struct_fields::<Example>(), ["listen", "do"]);
        assert!(struct_fields::<String>().is_empty());
    }
}
