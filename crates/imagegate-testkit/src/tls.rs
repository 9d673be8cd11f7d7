//! Certificates made with the `openssl` command line: a self-signed CA with a server certificate
//! for 127.0.0.1/localhost (registry TLS), and a self-signed RSA signing certificate (tokens).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::run;

/// openssl generates keys in well under a second; this only bounds a hung process.
const OPENSSL_TIMEOUT: Duration = Duration::from_secs(30);

/// Files of the TLS setup of one registry.
pub(crate) struct ServerTls {
    /// PEM of the CA, alone in its own directory (usable as a `--cert-dir` of skopeo/podman).
    pub ca_file: PathBuf,
    pub certificate: PathBuf,
    pub key: PathBuf,
}

/// Makes a P-256 CA (in `dir/ca/ca.crt`) and a server certificate signed by it whose
/// subjectAltName is `IP:127.0.0.1, DNS:localhost`.
pub(crate) fn make_server_tls(dir: &Path) -> Result<ServerTls, String> {
    let ca_dir = dir.join("ca");
    let work = dir.join("tls");
    for d in [&ca_dir, &work] {
        fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    let ca_file = ca_dir.join("ca.crt");
    let ca_key = work.join("ca.key");
    run(
        Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec"])
            .args(["-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "7"])
            .args(["-subj", "/CN=imagegate-testkit CA"])
            .args(["-addext", "basicConstraints=critical,CA:TRUE"])
            .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            .arg("-keyout")
            .arg(&ca_key)
            .arg("-out")
            .arg(&ca_file),
        OPENSSL_TIMEOUT,
    )?;

    let key = work.join("server.key");
    let csr = work.join("server.csr");
    run(
        Command::new("openssl")
            .args(["req", "-new", "-newkey", "ec"])
            .args(["-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
            .args(["-subj", "/CN=localhost"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&csr),
        OPENSSL_TIMEOUT,
    )?;
    let extensions = work.join("server.ext");
    fs::write(
        &extensions,
        "subjectAltName = IP:127.0.0.1, DNS:localhost\n\
         basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature, keyEncipherment\n\
         extendedKeyUsage = serverAuth\n",
    )
    .map_err(|e| format!("cannot write {}: {e}", extensions.display()))?;
    let certificate = work.join("server.crt");
    run(
        Command::new("openssl")
            .args(["x509", "-req", "-days", "7", "-set_serial", "2"])
            .arg("-in")
            .arg(&csr)
            .arg("-CA")
            .arg(&ca_file)
            .arg("-CAkey")
            .arg(&ca_key)
            .arg("-extfile")
            .arg(&extensions)
            .arg("-out")
            .arg(&certificate),
        OPENSSL_TIMEOUT,
    )?;
    Ok(ServerTls { ca_file, certificate, key })
}

/// The key and certificate that sign tokens.
pub(crate) struct SigningCert {
    pub key: PathBuf,
    pub certificate: PathBuf,
    /// Standard base64 of the certificate's DER, as the JWT header's `x5c` wants it.
    pub der_base64: String,
}

/// Makes a self-signed RSA-2048 certificate for RS256 token signatures.
pub(crate) fn make_signing_cert(dir: &Path) -> Result<SigningCert, String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let key = dir.join("signing.key");
    let certificate = dir.join("signing.crt");
    run(
        Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "7"])
            .args(["-subj", "/CN=imagegate-testkit token signer"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&certificate),
        OPENSSL_TIMEOUT,
    )?;
    let pem = fs::read_to_string(&certificate).map_err(|e| format!("cannot read {}: {e}", certificate.display()))?;
    let der_base64 = pem_body(&pem).ok_or_else(|| format!("{} holds no PEM certificate", certificate.display()))?;
    Ok(SigningCert { key, certificate, der_base64 })
}

/// The base64 body of the first PEM certificate in `pem` (which is the base64 of its DER).
fn pem_body(pem: &str) -> Option<String> {
    let start = pem.find("-----BEGIN CERTIFICATE-----")?;
    let rest = &pem[start..];
    let body_start = rest.find('\n')? + 1;
    let body_end = rest.find("-----END CERTIFICATE-----")?;
    let body: String = rest.get(body_start..body_end)?.chars().filter(|c| !c.is_whitespace()).collect();
    (!body.is_empty()).then_some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_body_joins_the_base64_lines() {
        let pem = "junk\n-----BEGIN CERTIFICATE-----\nAAAA\nBBBB\r\nCC==\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_body(pem).as_deref(), Some("AAAABBBBCC=="));
        assert_eq!(pem_body("nothing"), None);
    }
}
