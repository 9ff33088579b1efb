//! Where each node of a YAML document starts, by its path (`steps[2].do[0].fill.value`).
//!
//! serde_yaml locates the errors it raises itself, but has no spans for values that are fine
//! structurally and wrong semantically (a bad duration, an unknown `${var}`). Validation runs
//! after deserialization, collects every such error, and looks its location up here.

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
    /// A key given twice in one mapping: the entry's path and where the second key starts.
    duplicates: Vec<(String, Location)>,
}

impl LocationIndex {
    /// Indexes `source`. A document that does not parse gives an empty index: serde_yaml reports
    /// the syntax error with its own location before anyone asks this index.
    pub fn new(source: &str) -> Self {
        let mut builder = Builder::default();
        let _ = Parser::new_from_str(source).load(&mut builder, false);
        LocationIndex {
            nodes: builder.nodes,
            keys: builder.keys,
            duplicates: builder.duplicates,
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

    /// Every key given twice in one mapping, in document order.
    pub fn duplicates(&self) -> &[(String, Location)] {
        &self.duplicates
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
        key: Option<String>,
        seen: HashSet<String>,
    },
    Seq {
        path: String,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    nodes: HashMap<String, Location>,
    keys: HashMap<String, Location>,
    duplicates: Vec<(String, Location)>,
    /// How many levels below [`super::MAX_DEPTH`] the parser is.
    beyond: usize,
}

impl Builder {
    /// The path of the node that starts now, or None when the event is a mapping key.
    fn next_path(&mut self, event: &Event, location: Location) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { path, next }) => {
                let child = format!("{path}[{next}]");
                *next += 1;
                Some(child)
            }
            Some(Frame::Map { path, key, seen }) => match key.take() {
                Some(key) => Some(child_path(path, &key)),
                None => {
                    // A key: remember scalar keys and where they are; complex keys get a placeholder.
                    *key = Some(match event {
                        Event::Scalar(text, ..) => {
                            let child = child_path(path, text);
                            if !seen.insert(text.clone()) {
                                self.duplicates.push((child.clone(), location));
                            }
                            self.keys.entry(child).or_insert(location);
                            text.clone()
                        }
                        _ => "?".to_string(),
                    });
                    None
                }
            },
        }
    }
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
                    self.nodes.entry(path).or_insert(location);
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                // A mapping or sequence used as a key has no useful path; index it under "?".
                let path = self
                    .next_path(&event, location)
                    .unwrap_or_else(|| "?".to_string());
                self.nodes.entry(path.clone()).or_insert(location);
                self.stack.push(match event {
                    Event::MappingStart(..) => Frame::Map {
                        path,
                        key: None,
                        seen: HashSet::new(),
                    },
                    _ => Frame::Seq { path, next: 0 },
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
}
