//! Where each node of a YAML document starts, by its path (`steps[2].do[0].fill.value`).
//!
//! The parser locates the errors it raises itself, but values that are fine structurally and
//! wrong semantically (a bad duration, an unknown `${var}`) are found after deserialization:
//! validation collects every such error and looks its location up here. The parser's own
//! errors are located by place only; the index gives the path of the value at that place.

use std::collections::{HashMap, HashSet};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

/// Path of every node in a YAML document mapped to where the node starts.
#[derive(Debug, Default)]
pub struct LocationIndex {
    nodes: HashMap<String, Location>,
    /// Where the key of each mapping entry starts, by the entry's path.
    keys: HashMap<String, Location>,
    /// A key given twice in one mapping: the entry's path and where the second key starts (the
    /// first [`MAX_DUPLICATES`]).
    duplicates: Vec<(String, Location)>,
    /// How many more keys were given twice, and where the first of them is.
    more_duplicates: Option<(usize, Location)>,
    /// When the document does not parse: the innermost mapping or list still open there.
    unclosed: Option<Unclosed>,
}

/// A mapping or list that a syntax error left open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unclosed {
    pub at: Location,
    pub is_map: bool,
}

/// The most repeated keys reported one by one; past them, one error gives the count.
pub const MAX_DUPLICATES: usize = 100;

/// A key longer than this is indexed under `?`: no shopwatch key or name is this long, and every
/// path below a key repeats it, so a long key under many nodes would cost their product.
const MAX_KEY_IN_PATH: usize = 128;

/// The most path text the index holds. Real files index a few kilobytes; past the budget a node
/// is found by its nearest indexed ancestor. Without it, deep paths over a long list in a 4 MiB
/// file would take gigabytes.
const MAX_INDEX_BYTES: usize = 64 << 20;

impl LocationIndex {
    /// Indexes `source`. A document that does not parse is indexed up to the error, and says
    /// what it left open ([`Self::unclosed`]); the parser reports the error itself.
    pub fn new(source: &str) -> Self {
        let mut builder = Builder::default();
        let parsed = Parser::new_from_str(source).load(&mut builder, false);
        let unclosed = match (parsed, builder.stack.last()) {
            (Err(_), Some(Frame::Map { at, .. })) => Some(Unclosed {
                at: *at,
                is_map: true,
            }),
            (Err(_), Some(Frame::Seq { at, .. })) => Some(Unclosed {
                at: *at,
                is_map: false,
            }),
            _ => None,
        };
        LocationIndex {
            unclosed,
            nodes: builder.nodes,
            keys: builder.keys,
            duplicates: builder.duplicates,
            more_duplicates: builder.more_duplicates,
        }
    }

    /// The location of the key of the mapping entry at `path` (`vars.order-id` -> `order-id`),
    /// for errors about the key itself; else as `find`.
    pub fn find_key(&self, path: &str) -> Location {
        self.keys
            .get(path)
            .copied()
            .unwrap_or_else(|| self.find(path))
    }

    /// Whether the document has a node at `path` (`journey`: a top-level `journey:` key).
    pub fn has(&self, path: &str) -> bool {
        self.nodes.contains_key(path)
    }

    /// When the document does not parse, the innermost mapping or list open where it stopped.
    pub fn unclosed(&self) -> Option<Unclosed> {
        self.unclosed
    }

    /// Every key given twice in one mapping, in document order (the first [`MAX_DUPLICATES`]).
    pub fn duplicates(&self) -> &[(String, Location)] {
        &self.duplicates
    }

    /// How many repeated keys there are past the first [`MAX_DUPLICATES`], and where the first
    /// of them is.
    pub fn more_duplicates(&self) -> Option<(usize, Location)> {
        self.more_duplicates
    }

    /// The path of the deepest node that starts at `location` (errors know where, not what).
    pub fn path_at(&self, location: Location) -> Option<&str> {
        deepest_at(&self.nodes, location)
    }

    /// The path of the mapping entry whose key starts at `location`.
    pub fn key_path_at(&self, location: Location) -> Option<&str> {
        deepest_at(&self.keys, location)
    }

    /// The path of the mapping that holds the key `key` starting at `location` (`steps[0]` for
    /// `slwo` in `steps[0].slwo`; an empty `key` when it is not known), else of the node there.
    pub fn parent_of_key_at(&self, location: Location, key: &str) -> String {
        match self.key_path_at(location) {
            Some(path) => path
                .strip_suffix(key)
                .filter(|_| !key.is_empty())
                .or_else(|| path.strip_suffix('?'))
                .map(|p| p.strip_suffix('.').unwrap_or(p))
                .or_else(|| path.rsplit_once('.').map(|(parent, _)| parent))
                .unwrap_or("")
                .to_string(),
            None => self.path_at(location).unwrap_or_default().to_string(),
        }
    }

    /// The location of the node at `path`, or of its nearest indexed ancestor.
    pub fn find(&self, path: &str) -> Location {
        let mut path = path;
        loop {
            if let Some(location) = self.nodes.get(path) {
                return *location;
            }
            match path.rfind(['.', '[']) {
                Some(cut) => path = &path[..cut],
                None => return self.nodes.get("").copied().unwrap_or_default(),
            }
        }
    }
}

enum Frame {
    /// In a mapping; `key` is set while its value is pending; `seen` holds its scalar keys.
    Map {
        path: String,
        at: Location,
        key: Option<String>,
        seen: HashSet<String>,
    },
    Seq {
        path: String,
        at: Location,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    nodes: HashMap<String, Location>,
    keys: HashMap<String, Location>,
    duplicates: Vec<(String, Location)>,
    more_duplicates: Option<(usize, Location)>,
    /// How many levels below [`super::MAX_DEPTH`] the parser is.
    beyond: usize,
    /// Path text held so far, against [`MAX_INDEX_BYTES`].
    indexed: usize,
}

impl Builder {
    /// Whether one more path of `len` bytes fits in the budget (and counts it if so).
    fn budget(&mut self, len: usize) -> bool {
        self.indexed += len;
        self.indexed <= MAX_INDEX_BYTES
    }

    fn duplicate(&mut self, path: String, location: Location) {
        if self.duplicates.len() < MAX_DUPLICATES {
            self.duplicates.push((path, location));
        } else {
            let (count, _) = self.more_duplicates.get_or_insert((0, location));
            *count += 1;
        }
    }

    fn index(&mut self, path: String, location: Location) {
        if !self.nodes.contains_key(&path) && self.budget(path.len()) {
            self.nodes.insert(path, location);
        }
    }

    /// The path of the node that starts now, or None when the event is a mapping key.
    fn next_path(&mut self, event: &Event, location: Location) -> Option<String> {
        let (child, repeated) = match self.stack.last_mut() {
            None => return Some(String::new()),
            Some(Frame::Seq { path, next, .. }) => {
                let child = format!("{path}[{next}]");
                *next += 1;
                return Some(child);
            }
            Some(Frame::Map {
                path,
                at,
                key,
                seen,
            }) => {
                if let Some(key) = key.take() {
                    return Some(child_path(path, &key));
                }
                // The parser marks a block mapping after its first key; it starts at that key.
                if seen.is_empty() && (location.line, location.column) < (at.line, at.column) {
                    *at = location;
                    if let Some(start) = self.nodes.get_mut(path.as_str()) {
                        *start = location;
                    }
                }
                // A key: remember scalar keys and where they are; complex and very long keys
                // get a placeholder.
                let name = match event {
                    Event::Scalar(text, ..) if text.len() <= MAX_KEY_IN_PATH => text.clone(),
                    _ => "?".to_string(),
                };
                let repeated =
                    matches!(event, Event::Scalar(text, ..) if !seen.insert(text.clone()));
                let child = child_path(path, &name);
                *key = Some(name);
                (child, repeated)
            }
        };
        if repeated {
            self.duplicate(child.clone(), location);
        }
        if !self.keys.contains_key(&child) && self.budget(child.len()) {
            self.keys.insert(child, location);
        }
        None
    }
}

/// Of the paths in `map` at `location`, the longest (one scan: only an error asks).
fn deepest_at(map: &HashMap<String, Location>, location: Location) -> Option<&str> {
    map.iter()
        .filter(|(_, at)| **at == location)
        .map(|(path, _)| path.as_str())
        .max_by_key(|path| path.len())
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let location = Location {
            line: mark.line(),
            column: mark.col() + 1,
        };
        // Below the deepest nesting a file may have (refused elsewhere), index nothing: each
        // path is as long as its depth, so indexing a deep file costs depth times size.
        if self.beyond > 0 {
            match event {
                Event::MappingStart(..) | Event::SequenceStart(..) => self.beyond += 1,
                Event::MappingEnd | Event::SequenceEnd => self.beyond -= 1,
                _ => {}
            }
            return;
        }
        match event {
            Event::MappingStart(..) | Event::SequenceStart(..)
                if self.stack.len() >= super::MAX_DEPTH =>
            {
                self.beyond = 1;
            }
            Event::Scalar(..) | Event::Alias(..) => {
                if let Some(path) = self.next_path(&event, location) {
                    self.index(path, location);
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                // A mapping or sequence used as a key has no useful path; index it under "?".
                let path = self
                    .next_path(&event, location)
                    .unwrap_or_else(|| "?".to_string());
                self.index(path.clone(), location);
                self.stack.push(match event {
                    Event::MappingStart(..) => Frame::Map {
                        path,
                        at: location,
                        key: None,
                        seen: HashSet::new(),
                    },
                    _ => Frame::Seq {
                        path,
                        at: location,
                        next: 0,
                    },
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values_and_falls_back_to_ancestors() {
        let src = "journey: x\nsteps:\n  - step: a\n    do:\n      - fill: {selector: a, value: b}\n      - sleep: 5s\n";
        let index = LocationIndex::new(src);
        assert_eq!(
            index.find("journey"),
            Location {
                line: 1,
                column: 10
            }
        );
        assert_eq!(
            index.find("steps[0].step"),
            Location {
                line: 3,
                column: 11
            }
        );
        assert_eq!(
            index.find("steps[0].do[0].fill.value"),
            Location {
                line: 5,
                column: 36
            }
        );
        assert_eq!(
            index.find("steps[0].do[1].sleep"),
            Location {
                line: 6,
                column: 16
            }
        );
        assert_eq!(
            index.find("steps[0].do[1].sleep.nothing"),
            Location {
                line: 6,
                column: 16
            }
        );
        assert_eq!(
            index.find_key("steps[0].do[0].fill.value"),
            Location {
                line: 5,
                column: 29
            }
        );
        assert_eq!(
            index.find_key("steps[0].do[1].sleep.nothing"),
            Location {
                line: 6,
                column: 16
            }
        );
        assert!(index.duplicates().is_empty());
    }

    #[test]
    fn reports_each_repeated_key_where_it_repeats() {
        let src = "journey: x\nvars:\n  a: 1\n  b: 2\n  a: 3\njourney: y\n";
        let index = LocationIndex::new(src);
        assert_eq!(
            index.duplicates(),
            [
                ("vars.a".to_string(), Location { line: 5, column: 3 }),
                ("journey".to_string(), Location { line: 6, column: 1 }),
            ]
        );
        assert_eq!(index.find_key("vars.a"), Location { line: 3, column: 3 });
    }

    #[test]
    fn a_long_list_under_deep_long_keys_stays_within_the_budget() {
        // Found by the fuzzer: every item's path repeats the 30 keys above it, so indexing
        // every one would hold 1.5 million paths of 3.6 KB each (gigabytes).
        let mut src = String::from("journey: a\n");
        for depth in 0..30 {
            src.push_str(&format!("{}{}:\n", "  ".repeat(depth), "k".repeat(120)));
        }
        src.push_str(&format!(
            "{}[{}a]\n",
            "  ".repeat(30),
            "a,".repeat(1_500_000)
        ));
        let index = LocationIndex::new(&src);
        let held: usize = index
            .nodes
            .keys()
            .chain(index.keys.keys())
            .map(String::len)
            .sum();
        assert!(held <= MAX_INDEX_BYTES, "{held} bytes of paths held");
        assert_eq!(
            index.find("journey"),
            Location {
                line: 1,
                column: 10
            }
        );
        let deep = format!("{}[0]", vec!["k".repeat(120); 30].join("."));
        assert_eq!(
            index.find(&deep),
            Location {
                line: 32,
                column: 62
            }
        );
    }

    #[test]
    fn repeated_keys_past_the_first_hundred_are_counted_from_the_first_of_them() {
        let src = format!("vars:\n{}", "  a: 1\n".repeat(MAX_DUPLICATES + 51));
        let index = LocationIndex::new(&src);
        assert_eq!(index.duplicates().len(), MAX_DUPLICATES);
        assert_eq!(index.duplicates()[0].1, Location { line: 3, column: 3 });
        assert_eq!(
            index.more_duplicates(),
            Some((
                50,
                Location {
                    line: MAX_DUPLICATES + 3,
                    column: 3
                }
            ))
        );
    }
}
