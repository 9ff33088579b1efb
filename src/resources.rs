//! The monitor's own resources: the file descriptor limit (raised at start), and telling an
//! error of this machine (out of descriptors, memory or ports, no network at all) from the
//! shop's, so the monitor's trouble is a monitor `error`, never a page for the shop.

use std::error::Error;

/// Raises the soft limit on open files to the hard limit, as Go and systemd services do: the
/// soft default (often 1024) is far below what a monitor with browsers may need. Returns the
/// limit in force, `None` when it cannot be read.
pub fn raise_fd_limit() -> Option<u64> {
    let mut limit = current()?;
    if limit.rlim_cur < limit.rlim_max {
        let wanted = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we pass; no memory is shared.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) } == 0 {
            limit = wanted;
        }
    }
    Some(limit.rlim_cur)
}

/// The soft limit on open files.
pub fn fd_limit() -> Option<u64> {
    current().map(|l| l.rlim_cur)
}

fn current() -> Option<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0).then_some(limit)
}

/// When `error` (or an error it was caused by) is this machine's own trouble, what it is.
pub fn local_cause(error: &(dyn Error + 'static)) -> Option<&'static str> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(cause) = io.raw_os_error().and_then(os_cause) {
                return Some(cause);
            }
            if let Some(inner) = io.get_ref() {
                if let Some(cause) = local_cause(inner) {
                    return Some(cause);
                }
            }
        }
        next = e.source();
    }
    None
}

/// The errno values that say "this machine", not "that server". EHOSTUNREACH is left out: a
/// router on the way to the shop sends it too.
fn os_cause(errno: i32) -> Option<&'static str> {
    Some(match errno {
        libc::EMFILE => "the monitor is out of file descriptors (EMFILE: raise `ulimit -n`)",
        libc::ENFILE => "the machine is out of file descriptors (ENFILE)",
        libc::ENOMEM | libc::ENOBUFS => "the monitor's machine is out of memory (ENOMEM/ENOBUFS)",
        libc::EADDRNOTAVAIL => {
            "the monitor's machine has no local port or address left (EADDRNOTAVAIL)"
        }
        libc::ENETUNREACH | libc::ENETDOWN => {
            "the monitor's machine has no network route (ENETUNREACH: its own network is down)"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper(std::io::Error);
    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error (Connect)")
        }
    }
    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn the_machines_own_errors_are_told_apart_from_the_shops() {
        let emfile = Wrapper(std::io::Error::from_raw_os_error(libc::EMFILE));
        assert!(local_cause(&emfile).unwrap().contains("EMFILE"));
        let refused = Wrapper(std::io::Error::from_raw_os_error(libc::ECONNREFUSED));
        assert_eq!(local_cause(&refused), None);
        let host = std::io::Error::from_raw_os_error(libc::EHOSTUNREACH);
        assert_eq!(local_cause(&host), None);
        let nested = std::io::Error::other(std::io::Error::from_raw_os_error(libc::ENFILE));
        assert!(local_cause(&nested).unwrap().contains("ENFILE"));
    }
}
