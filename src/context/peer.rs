//! The TLS client certificate of a connection (mTLS, `tls.client_ca_file`), as the audit
//! records it: the subject's distinguished name, read from the certificate rustls verified.
//!
//! Owns only reading the subject out of the DER (a walk over the TBSCertificate's first
//! fields); it trusts nothing it reads, caps what it returns, and never fails a request: a
//! certificate it cannot read is recorded as `None`.

/// Longest subject recorded, in characters; longer ones are cut with an ellipsis.
const MAX_SUBJECT_CHARS: usize = 256;

/// The subject of a DER certificate as `CN=ci, O=Example` (attributes in their encoded order,
/// control characters replaced); `None` if the certificate cannot be read.
///
/// ```
/// assert_eq!(sqlgate::context::client_cert_subject(b"not a certificate"), None);
/// ```
pub fn client_cert_subject(der: &[u8]) -> Option<String> {
    let (0x30, cert, _) = tlv(der)? else {
        return None;
    };
    let (0x30, tbs, _) = tlv(cert)? else {
        return None;
    };
    let mut rest = tbs;
    // [0] EXPLICIT version, absent for v1 certificates.
    if let Some((0xa0, _, after)) = tlv(rest) {
        rest = after;
    }
    // serialNumber, signature, issuer, validity, then subject.
    for _ in 0..4 {
        rest = tlv(rest)?.2;
    }
    let (0x30, name, _) = tlv(rest)? else {
        return None;
    };
    render_name(name)
}

/// `Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }`, rendered.
fn render_name(mut name: &[u8]) -> Option<String> {
    let mut parts = Vec::new();
    while !name.is_empty() {
        let (0x31, mut set, rest) = tlv(name)? else {
            return None;
        };
        name = rest;
        while !set.is_empty() {
            let (0x30, atv, rest) = tlv(set)? else {
                return None;
            };
            set = rest;
            let (0x06, oid, value) = tlv(atv)? else {
                return None;
            };
            let (tag, value, _) = tlv(value)?;
            parts.push(format!("{}={}", attribute(oid), text(tag, value)));
        }
    }
    let subject: String = parts.join(", ");
    if subject.chars().count() > MAX_SUBJECT_CHARS {
        let cut: String = subject.chars().take(MAX_SUBJECT_CHARS).collect();
        return Some(format!("{cut}…"));
    }
    Some(subject)
}

/// The short name of a well-known attribute type, else its dotted OID.
fn attribute(oid: &[u8]) -> String {
    let known = match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x05] => "serialNumber",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        _ => return dotted(oid),
    };
    known.to_string()
}

fn dotted(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for &b in oid {
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (acc / 40).min(2);
                arcs.push(first);
                arcs.push(acc - first * 40);
            } else {
                arcs.push(acc);
            }
            acc = 0;
        }
        if arcs.len() > 32 {
            break;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// A directory string: UTF8String, PrintableString, IA5String and T61String as text (control
/// characters replaced by `?`), BMPString decoded, anything else as `#hex`.
fn text(tag: u8, value: &[u8]) -> String {
    let s = match tag {
        0x0c | 0x13 | 0x16 | 0x14 => String::from_utf8_lossy(value).into_owned(),
        0x1e => {
            let units: Vec<u16> = value
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => return format!("#{}", hex::encode(value)),
    };
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// One DER element: `(tag, content, rest)`; `None` if it is cut short or its length is not
/// one DER allows here.
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&first, mut b) = b.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, rest) = b.split_at_checked(n)?;
        b = rest;
        bytes
            .iter()
            .fold(0usize, |acc, &x| (acc << 8) | usize::from(x))
    };
    let (content, rest) = b.split_at_checked(len)?;
    Some((tag, content, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

    #[test]
    fn the_subject_of_a_client_certificate_is_read_in_order() {
        let mut params = CertificateParams::new(vec!["ci.example".into()]).unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "ci-runner");
        dn.push(DnType::OrganizationName, "Example\u{7} Corp");
        dn.push(DnType::CountryName, "DE");
        params.distinguished_name = dn;
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let subject = client_cert_subject(cert.der()).unwrap();
        assert_eq!(subject, "CN=ci-runner, O=Example? Corp, C=DE");
    }

    #[test]
    fn junk_and_cut_certificates_give_none_never_a_panic() {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["x".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().to_vec();
        for n in 0..der.len().min(200) {
            // Every prefix is either readable or None; none panics.
            let _ = client_cert_subject(&der[..n]);
        }
        assert_eq!(
            client_cert_subject(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            None
        );
        assert_eq!(dotted(&[0x2a, 0x86, 0x48]), "1.2.840");
    }
}
