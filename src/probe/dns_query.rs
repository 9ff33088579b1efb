//! One DNS query to one server, for the DNS probe kinds: over UDP (EDNS, a 1232-byte payload),
//! asked again over TCP when the answer comes truncated; or over TCP only. The wire format is
//! hickory-proto's; only the sending is here. Without a configured server the queries go to
//! the system's resolvers (`/etc/resolv.conf`), in order.

use crate::resources::local_cause;
use hickory_proto::op::{Edns, Message, MessageType, Query};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// The record types a probe may ask for.
pub const TYPES: &[&str] = &[
    "A", "AAAA", "CNAME", "MX", "NS", "SOA", "TXT", "CAA", "PTR", "SRV",
];

/// What UDP answers may weigh (RFC 9715's advice, the DNS flag day's number).
const UDP_PAYLOAD: u16 = 1232;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP, and TCP again for a truncated answer.
    Udp,
    Tcp,
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub record_type: RecordType,
    /// Ask the server to recurse (a resolver); off for an authoritative server.
    pub recursion: bool,
    pub transport: Transport,
}

/// A server's answer.
#[derive(Debug)]
pub struct Answer {
    pub message: Message,
}

/// Why a query got no answer; `local` when this machine is at fault (no descriptors, no
/// network), which makes the probe's outcome `error`, not `failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoAnswer {
    pub reason: String,
    pub local: bool,
}

/// Asks `server` and waits at most `wait` for its answer.
pub async fn ask(
    server: SocketAddr,
    question: &Question,
    wait: Duration,
) -> Result<Answer, NoAnswer> {
    let started = Instant::now();
    let mut message = Message::query();
    message.add_query(Query::query(question.name.clone(), question.record_type));
    message.metadata.recursion_desired = question.recursion;
    let mut edns = Edns::new();
    edns.set_max_payload(UDP_PAYLOAD);
    message.set_edns(edns);
    let id = message.metadata.id;
    let request = message.to_vec().map_err(|e| NoAnswer {
        reason: format!("cannot encode the query: {e}"),
        local: true,
    })?;
    let over = |transport: &str, e: std::io::Error| match local_cause(&e) {
        Some(cause) => NoAnswer {
            reason: format!("cannot ask {server} over {transport}: {cause}"),
            local: true,
        },
        None => NoAnswer {
            reason: format!("no answer from {server} over {transport}: {e}"),
            local: false,
        },
    };
    let timed_out = |transport: &str| NoAnswer {
        reason: format!(
            "no answer from {server} over {transport} within {}",
            humantime::format_duration(wait)
        ),
        local: false,
    };
    let bytes = if question.transport == Transport::Udp {
        let left = wait.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, over_udp(server, id, &request)).await {
            Err(_) => return Err(timed_out("UDP")),
            Ok(Err(e)) => return Err(over("UDP", e)),
            Ok(Ok(bytes)) => bytes,
        }
    } else {
        Vec::new()
    };
    let truncated = !bytes.is_empty() && bytes.get(2).is_some_and(|flags| flags & 0x02 != 0);
    let bytes = if question.transport == Transport::Tcp || truncated {
        let left = wait.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, over_tcp(server, &request)).await {
            Err(_) => return Err(timed_out("TCP")),
            Ok(Err(e)) => return Err(over("TCP", e)),
            Ok(Ok(bytes)) => bytes,
        }
    } else {
        bytes
    };
    let message = Message::from_vec(&bytes).map_err(|e| NoAnswer {
        reason: format!("{server} sent an answer that is not a DNS message: {e}"),
        local: false,
    })?;
    if message.metadata.id != id || message.metadata.message_type != MessageType::Response {
        return Err(NoAnswer {
            reason: format!("{server} answered with another query's id"),
            local: false,
        });
    }
    Ok(Answer { message })
}

/// Sends `request` and returns the first datagram from `server` that answers its id (others,
/// late answers to earlier queries or spoofing attempts, are dropped).
async fn over_udp(server: SocketAddr, id: u16, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(server).await?;
    socket.send(request).await?;
    let mut buffer = vec![0u8; 65_535];
    loop {
        let n = socket.recv(&mut buffer).await?;
        if n >= 12 && u16::from_be_bytes([buffer[0], buffer[1]]) == id {
            buffer.truncate(n);
            return Ok(buffer);
        }
    }
}

/// Sends `request` with its two-byte length and reads one answer (RFC 1035 4.2.2).
async fn over_tcp(server: SocketAddr, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(server).await?;
    let mut framed = Vec::with_capacity(request.len() + 2);
    framed.extend_from_slice(&(request.len() as u16).to_be_bytes());
    framed.extend_from_slice(request);
    stream.write_all(&framed).await?;
    let length = stream.read_u16().await?;
    let mut answer = vec![0u8; usize::from(length)];
    stream.read_exact(&mut answer).await?;
    Ok(answer)
}

/// The system's resolvers, from `/etc/resolv.conf`.
pub fn system_servers() -> Result<Vec<SocketAddr>, String> {
    const FILE: &str = "/etc/resolv.conf";
    let text = std::fs::read(FILE).map_err(|e| {
        format!("cannot read {FILE} for the system's resolvers: {e}; set `server` on the probe")
    })?;
    let config = resolv_conf::Config::parse(&text)
        .map_err(|e| format!("{FILE} cannot be read: {e}; set `server` on the probe"))?;
    let servers: Vec<SocketAddr> = config
        .nameservers
        .iter()
        .map(|ip| SocketAddr::new(IpAddr::from(ip.clone()), 53))
        .collect();
    if servers.is_empty() {
        return Err(format!(
            "{FILE} names no nameserver; set `server` on the probe"
        ));
    }
    Ok(servers)
}

/// A server as written: an IP address, with a port or not (`127.0.0.1`, `127.0.0.1:5353`,
/// `::1`, `[::1]:5353`).
pub fn parse_server(text: &str) -> Option<SocketAddr> {
    let text = text.trim();
    text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

/// A record's data as in a zone file, compared without case and without trailing dots:
/// `10 mx.shop.example`, `127.0.0.1`.
pub fn record_text(record: &Record) -> String {
    normalize(&record.data.to_string())
}

/// `text` as [`record_text`] shows records, for comparing what the configuration says.
pub fn normalize(text: &str) -> String {
    text.split_whitespace()
        .map(|token| token.trim_end_matches('.').to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The SOA serial among `records`, if any.
pub fn soa_serial<'a>(records: impl IntoIterator<Item = &'a Record>) -> Option<u32> {
    records.into_iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    })
}

/// `name` as a fully qualified name (a trailing dot added), lowercase.
pub fn fqdn(name: &Name) -> String {
    let text = name.to_ascii().to_ascii_lowercase();
    if text.ends_with('.') {
        text
    } else {
        format!("{text}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_ip_addresses_with_or_without_a_port() {
        assert_eq!(
            parse_server("127.0.0.1"),
            Some("127.0.0.1:53".parse().unwrap())
        );
        assert_eq!(
            parse_server("127.0.0.1:5353"),
            Some("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(parse_server("::1"), Some("[::1]:53".parse().unwrap()));
        assert_eq!(
            parse_server("[::1]:5353"),
            Some("[::1]:5353".parse().unwrap())
        );
        assert_eq!(parse_server("ns1.example.com"), None);
        assert_eq!(parse_server("127.0.0.1:99999"), None);
    }

    #[test]
    fn record_text_compares_without_case_and_trailing_dots() {
        assert_eq!(normalize("10  MX.Shop.Example."), "10 mx.shop.example");
        assert_eq!(normalize("127.0.0.1"), "127.0.0.1");
    }
}
