//! Reading files that users name (secrets, CA files, configurations, the alert state) with a
//! size cap: `file: /dev/zero` or a wrong path to a disk image is refused after the cap, not
//! read until memory runs out.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// A secret is a password, token or key, not a file's worth.
pub const SECRET_FILE: u64 = 64 * 1024;
/// A CA bundle: the system's whole bundle is about 200 KiB.
pub const CA_FILE: u64 = 1024 * 1024;
/// A journey file or monitor configuration.
pub const CONFIG_FILE: u64 = 4 * 1024 * 1024;
/// The alert state file: every sink's queue at its longest fits.
pub const STATE_FILE: u64 = 64 * 1024 * 1024;

#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    /// The file holds more than the cap.
    TooLarge {
        cap: u64,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::TooLarge { cap } => write!(f, "it holds more than {}", size(*cap)),
        }
    }
}

/// The bytes of `path`, if it holds at most `cap` of them; reads no more than `cap + 1`.
pub fn read(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge { cap });
    }
    Ok(bytes)
}

/// As [`read`], for a text file (UTF-8).
pub fn read_to_string(path: &Path, cap: u64) -> Result<String, ReadError> {
    String::from_utf8(read(path, cap)?).map_err(|_| {
        ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })
}

/// `64 KiB`, `1 MiB`: a cap as the messages show it.
pub fn size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_file_is_refused_after_the_cap() {
        let started = std::time::Instant::now();
        let error = read(Path::new("/dev/zero"), SECRET_FILE).unwrap_err();
        assert!(matches!(error, ReadError::TooLarge { cap: SECRET_FILE }));
        assert_eq!(error.to_string(), "it holds more than 64 KiB");
        assert!(started.elapsed().as_millis() < 1000);
    }

    #[test]
    fn a_file_of_exactly_the_cap_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'x'; 1024]).unwrap();
        assert_eq!(read(&path, 1024).unwrap().len(), 1024);
        assert!(matches!(
            read(&path, 1023),
            Err(ReadError::TooLarge { cap: 1023 })
        ));
        assert_eq!(size(CA_FILE), "1 MiB");
        assert_eq!(size(1023), "1023 bytes");
    }
}
