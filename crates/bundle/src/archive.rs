//! The archive inside a bundle: tar (ustar, so any `tar` lists it) compressed by zstd.
//!
//! Opening checks everything before returning: only plain files and directories, names that
//! stay inside the bundle (no absolute paths, no `..`, no links), no name twice, at most
//! [`MAX_ENTRIES`] entries and [`MAX_BYTES`] of contents (a small archive cannot inflate into
//! the memory of the host installing it), and a manifest that names exactly the files present.
//! An archive without a manifest (made by hand with `tar` and `age -r`) is a set of files.

use std::io::Read;

use zeroize::Zeroizing;

use crate::manifest::{AGENT_KEY, FORMAT, MANIFEST, SECRETS_DIR};
use crate::{BundleError, Identities, Manifest, Recipients, crypt};

/// At most this many entries.
pub const MAX_ENTRIES: usize = 100_000;
/// At most this many bytes of archive once decompressed.
pub const MAX_BYTES: u64 = 256 * 1024 * 1024;
const MAX_NAME: usize = 1024;
/// Longest component of a name: a file system's 255 bytes, less room for the temporary name
/// an atomic write uses beside the file.
pub const MAX_COMPONENT: usize = 200;
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// One file of a bundle.
pub struct Entry {
    /// Its name: a relative path of plain components.
    pub name: String,
    /// Its contents.
    pub contents: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Entry({:?}, {} bytes)", self.name, self.contents.len())
    }
}

/// A bundle's contents.
#[derive(Debug, Default)]
pub struct Bundle {
    /// Present in bundles clawvault makes.
    pub manifest: Option<Manifest>,
    /// Every file except the manifest, in archive order.
    pub files: Vec<Entry>,
}

impl Bundle {
    /// The archive (tar+zstd), encrypted to `recipients`.
    ///
    /// # Errors
    /// No recipient, a name that [`check_name`] refuses.
    pub fn seal(&self, recipients: &Recipients) -> Result<Vec<u8>, BundleError> {
        check_tree(self.files.iter().map(|f| f.name.as_str()))?;
        // Sized up front, so that growing never leaves a copy of the values behind unzeroized:
        // each entry takes a 512-byte header (a long name one more, and its name), its contents
        // padded to 512 bytes, and the archive ends with 1,024 zero bytes.
        let room = |len: usize, name: &str| 3 * 512 + name.len() + len.div_ceil(512) * 512;
        let manifest = match &self.manifest {
            Some(m) => Some(serde_json::to_vec_pretty(m).map_err(|e| BundleError::Manifest(e.to_string()))?),
            None => None,
        };
        let capacity = self.files.iter().map(|f| room(f.contents.len(), &f.name)).sum::<usize>()
            + manifest.as_ref().map_or(0, |m| room(m.len(), MANIFEST))
            + 1024;
        let mut tar = tar::Builder::new(Vec::with_capacity(capacity));
        let mut append = |name: &str, bytes: &[u8]| -> Result<(), BundleError> {
            check_name(name)?;
            let mut header = tar::Header::new_ustar();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o600);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, name, bytes)?;
            Ok(())
        };
        if let Some(json) = &manifest {
            append(MANIFEST, json)?;
        }
        for f in &self.files {
            append(&f.name, &f.contents)?;
        }
        let archive = Zeroizing::new(tar.into_inner()?);
        let compressed = Zeroizing::new(zstd::bulk::compress(&archive, 3)?);
        crypt::seal(&compressed, recipients)
    }

    /// Decrypts and checks a bundle (see the module's rules).
    ///
    /// # Errors
    /// Every [`BundleError`] but `Recipient`/`NoRecipient`.
    pub fn open(sealed: &[u8], identities: &Identities) -> Result<Self, BundleError> {
        let plain = crypt::open(sealed, identities)?;
        Self::read(&plain)
    }

    /// Checks an archive already decrypted (tar, or tar+zstd).
    ///
    /// # Errors
    /// As [`Bundle::open`], past decryption.
    pub fn read(archive: &[u8]) -> Result<Self, BundleError> {
        read_within(archive, MAX_BYTES)
    }
}

fn read_within(archive: &[u8], limit: u64) -> Result<Bundle, BundleError> {
    if archive.starts_with(&ZSTD_MAGIC) {
        let decoder =
            zstd::stream::read::Decoder::new(archive).map_err(|e| BundleError::Archive(format!("zstd: {e}")))?;
        read_tar(LimitedRead { inner: decoder, remaining: limit }, limit)
    } else {
        read_tar(LimitedRead { inner: archive, remaining: limit }, limit)
    }
}

/// A reader that fails (rather than ends) past its limit, so that a truncated archive is
/// never mistaken for a complete one.
struct LimitedRead<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for LimitedRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.remaining == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(std::io::Error::other(LIMIT)),
            };
        }
        let want = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.remaining -= n as u64;
        Ok(n)
    }
}

const LIMIT: &str = "past the size limit";

fn too_large(limit: u64) -> BundleError {
    BundleError::TooLarge(format!("more than {limit} bytes once decompressed"))
}

fn read_tar<R: Read>(reader: R, limit: u64) -> Result<Bundle, BundleError> {
    let archive_error = |e: &std::io::Error| {
        if e.to_string().contains(LIMIT) { too_large(limit) } else { BundleError::Archive(e.to_string()) }
    };
    let mut tar = tar::Archive::new(reader);
    let mut bundle = Bundle::default();
    let mut seen = std::collections::BTreeSet::new();
    let mut manifest_text = None;
    for (count, entry) in tar.entries().map_err(|e| archive_error(&e))?.enumerate() {
        if count >= MAX_ENTRIES {
            return Err(BundleError::TooLarge(format!("more than {MAX_ENTRIES} entries")));
        }
        let mut entry = entry.map_err(|e| archive_error(&e))?;
        let kind = entry.header().entry_type();
        // Directories are implied by the files' names; a global pax header (`git archive`
        // writes one) describes the archive, not an entry.
        if kind.is_dir() || kind.is_pax_global_extensions() {
            continue;
        }
        let raw = entry.path_bytes();
        let name = String::from_utf8(raw.to_vec()).map_err(|_| BundleError::Entry {
            name: String::from_utf8_lossy(&raw).into_owned(),
            reason: "its name is not UTF-8".to_owned(),
        })?;
        let name = normalise(&name)?;
        if !(kind.is_file() || kind.is_contiguous()) {
            let what = if kind.is_symlink() || kind.is_hard_link() { "a link" } else { "not a plain file" };
            return Err(BundleError::Entry { name, reason: format!("{what}; a bundle holds plain files only") });
        }
        if !seen.insert(name.clone()) {
            return Err(BundleError::Entry { name, reason: "appears twice".to_owned() });
        }
        let size = entry.size();
        if size > limit {
            return Err(too_large(limit));
        }
        let mut contents = Zeroizing::new(Vec::with_capacity(usize::try_from(size).unwrap_or(0)));
        entry.read_to_end(&mut contents).map_err(|e| archive_error(&e))?;
        if name == MANIFEST {
            manifest_text = Some(contents);
        } else {
            bundle.files.push(Entry { name, contents });
        }
    }
    check_tree(bundle.files.iter().map(|f| f.name.as_str()))?;
    if let Some(text) = manifest_text {
        let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| BundleError::Manifest(e.to_string()))?;
        check_manifest(&manifest, &bundle.files)?;
        bundle.manifest = Some(manifest);
    }
    Ok(bundle)
}

/// `./a//b` is `a/b`; anything that could leave the install directory is refused.
fn normalise(name: &str) -> Result<String, BundleError> {
    if name.starts_with('/') {
        return Err(BundleError::Entry { name: name.to_owned(), reason: "an absolute path".to_owned() });
    }
    let parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    let clean = parts.join("/");
    check_name(&clean).map_err(|_| BundleError::Entry {
        name: name.to_owned(),
        reason: "a name that is empty, holds `..` or a control character".to_owned(),
    })?;
    Ok(clean)
}

/// A name a bundle may hold: relative, plain components, no `..`, no control characters.
///
/// # Errors
/// [`BundleError::Entry`] saying which rule.
pub fn check_name(name: &str) -> Result<(), BundleError> {
    let bad = |reason: &str| Err(BundleError::Entry { name: name.to_owned(), reason: reason.to_owned() });
    if name.is_empty() || name.len() > MAX_NAME {
        return bad("names are 1 to 1024 bytes long");
    }
    if name.starts_with('/') {
        return bad("an absolute path");
    }
    if name.chars().any(char::is_control) {
        return bad("a control character in its name");
    }
    if name.split('/').any(|p| p.is_empty() || p == "." || p == "..") {
        return bad("an empty, `.` or `..` component");
    }
    if name.split('/').any(|p| p.len() > MAX_COMPONENT) {
        return bad(
            "a component longer than 200 bytes, which a file system cannot hold with room to write it atomically",
        );
    }
    Ok(())
}

/// Refuses a set of names where one is the directory of another (`a` and `a/b`): both cannot
/// be files. Checked when sealing and when opening, so an install never finds out halfway.
fn check_tree<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), BundleError> {
    let mut sorted: Vec<&str> = names.collect();
    sorted.sort_unstable();
    for pair in sorted.windows(2) {
        if pair[1].strip_prefix(pair[0]).is_some_and(|rest| rest.starts_with('/')) {
            return Err(BundleError::Entry {
                name: pair[0].to_owned(),
                reason: format!("is a file and also the directory of {:?}; rename one of them", pair[1]),
            });
        }
    }
    Ok(())
}

fn check_manifest(m: &Manifest, files: &[Entry]) -> Result<(), BundleError> {
    if m.format != FORMAT {
        return Err(BundleError::Manifest(format!("format {:?}, this clawvault reads {FORMAT}", m.format)));
    }
    // Secrets live under `secrets/`, the key is `agent.key`: a manifest cannot make a secret
    // file of the daemon's configuration, its cache or its key.
    if let Some(s) = m.secrets.iter().find(|s| !s.file.starts_with(SECRETS_DIR)) {
        return Err(BundleError::Manifest(format!("names {:?} as a secret file, outside {SECRETS_DIR}", s.file)));
    }
    if let Some(h) = m.host.as_ref().filter(|h| h.key_file != AGENT_KEY) {
        return Err(BundleError::Manifest(format!("names {:?} as the agent key, not {AGENT_KEY}", h.key_file)));
    }
    let mut named: Vec<&str> = m.secrets.iter().map(|s| s.file.as_str()).collect();
    named.extend(m.host.iter().map(|h| h.key_file.as_str()));
    for n in &named {
        check_name(n)?;
        let Some(f) = files.iter().find(|f| f.name == *n) else {
            return Err(BundleError::Manifest(format!("names {n:?}, which the archive does not hold")));
        };
        if let Some(s) = m.secrets.iter().find(|s| s.file == *n)
            && s.bytes != f.contents.len() as u64
        {
            return Err(BundleError::Manifest(format!(
                "{n:?} should be {} bytes, the archive holds {}",
                s.bytes,
                f.contents.len()
            )));
        }
    }
    if let Some(extra) = files.iter().find(|f| !named.contains(&f.name.as_str())) {
        return Err(BundleError::Manifest(format!("does not name {:?}", extra.name)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SecretEntry, keys};

    fn file(name: &str, value: &[u8]) -> Entry {
        Entry { name: name.to_owned(), contents: Zeroizing::new(value.to_vec()) }
    }

    fn manifest(files: &[(&str, u64)]) -> Manifest {
        Manifest {
            format: FORMAT.to_owned(),
            created_at: "2026-12-06T00:00:00Z".to_owned(),
            vault: "prod".to_owned(),
            prefix: String::new(),
            secrets: files
                .iter()
                .map(|(f, n)| SecretEntry {
                    file: (*f).to_owned(),
                    path: f.trim_start_matches("secrets/").to_owned(),
                    version: 1,
                    secret_type: "generic".to_owned(),
                    bytes: *n,
                })
                .collect(),
            host: None,
        }
    }

    fn keys() -> (Identities, Recipients) {
        let (text, recipient) = keys::generate();
        let mut r = Recipients::default();
        r.add(&recipient).expect("recipient");
        (Identities::parse("k", text.as_bytes()).expect("identity"), r)
    }

    /// A raw tar archive with entries of any kind and name, as a hostile tool could write.
    fn raw_tar(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.as_gnu_mut().expect("gnu").name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            if kind.is_symlink() || kind.is_hard_link() {
                h.set_link_name("/etc/passwd").expect("link");
            }
            h.set_cksum();
            b.append(&h, *data).expect("append");
        }
        b.into_inner().expect("tar")
    }

    #[test]
    fn a_sealed_bundle_opens_to_the_same_files_and_manifest() {
        let (ids, r) = keys();
        let bundle = Bundle {
            manifest: Some(manifest(&[("secrets/bots/discord", 5), ("secrets/db", 0)])),
            files: vec![file("secrets/bots/discord", b"token"), file("secrets/db", b"")],
        };
        let sealed = bundle.seal(&r).expect("seal");
        let opened = Bundle::open(&sealed, &ids).expect("open");
        assert_eq!(opened.manifest, bundle.manifest);
        assert_eq!(opened.files.len(), 2);
        assert_eq!(opened.files[0].contents.as_slice(), b"token");
        assert!(!format!("{opened:?}").contains("token\""));
    }

    #[test]
    fn entries_that_could_leave_the_install_directory_are_refused() {
        for (name, kind) in [
            ("../escape", tar::EntryType::Regular),
            ("a/../../escape", tar::EntryType::Regular),
            ("/etc/cron.d/x", tar::EntryType::Regular),
            ("link", tar::EntryType::Symlink),
            ("hard", tar::EntryType::Link),
            ("fifo", tar::EntryType::Fifo),
            ("dev", tar::EntryType::Char),
        ] {
            let err = Bundle::read(&raw_tar(&[(name, kind, b"")])).expect_err(name);
            assert!(matches!(err, BundleError::Entry { .. }), "{name}: {err}");
        }
        let err =
            Bundle::read(&raw_tar(&[("a", tar::EntryType::Regular, b"1"), ("./a", tar::EntryType::Regular, b"2")]))
                .expect_err("twice");
        assert!(err.to_string().contains("twice"), "{err}");
        let ok = Bundle::read(&raw_tar(&[
            ("./dir/", tar::EntryType::Directory, b""),
            ("./dir/a", tar::EntryType::Regular, b"1"),
        ]))
        .expect("plain files and directories");
        assert_eq!(ok.files[0].name, "dir/a");
    }

    #[test]
    fn the_manifest_must_name_exactly_the_files_present() {
        let (ids, r) = keys();
        let missing = Bundle { manifest: Some(manifest(&[("secrets/a", 1)])), files: vec![] };
        assert!(matches!(Bundle::open(&missing.seal(&r).expect("seal"), &ids), Err(BundleError::Manifest(_))));
        let extra = Bundle { manifest: Some(manifest(&[])), files: vec![file("secrets/a", b"1")] };
        assert!(matches!(Bundle::open(&extra.seal(&r).expect("seal"), &ids), Err(BundleError::Manifest(_))));
        let size = Bundle { manifest: Some(manifest(&[("secrets/a", 9)])), files: vec![file("secrets/a", b"1")] };
        assert!(matches!(Bundle::open(&size.seal(&r).expect("seal"), &ids), Err(BundleError::Manifest(_))));
    }

    #[test]
    fn a_file_that_is_also_a_directory_or_a_long_component_is_refused_before_any_write() {
        let err = Bundle::read(&raw_tar(&[
            ("0first", tar::EntryType::Regular, b"z"),
            ("a", tar::EntryType::Regular, b"1"),
            ("a/b", tar::EntryType::Regular, b"2"),
        ]))
        .expect_err("a and a/b");
        assert!(err.to_string().contains("also the directory"), "{err}");
        let (_, r) = keys();
        let sealed = Bundle { manifest: None, files: vec![file("a", b"1"), file("a/b", b"2")] }.seal(&r);
        assert!(matches!(sealed, Err(BundleError::Entry { .. })));
        assert!(check_name(&"x".repeat(240)).is_err());
        assert!(check_name(&format!("a/{}", "x".repeat(200))).is_ok());
    }

    #[test]
    fn a_manifest_cannot_name_files_outside_secrets_or_another_key() {
        let (ids, r) = keys();
        let mut m = manifest(&[("sync.toml", 1)]);
        let b = Bundle { manifest: Some(m.clone()), files: vec![file("sync.toml", b"1")] };
        assert!(matches!(Bundle::open(&b.seal(&r).expect("seal"), &ids), Err(BundleError::Manifest(_))));
        m.secrets.clear();
        m.host = Some(crate::Host {
            agent: "a".into(),
            agent_id: "1".into(),
            address: "http://x".into(),
            key_file: "secrets/k".into(),
        });
        let b = Bundle { manifest: Some(m), files: vec![file("secrets/k", b"k")] };
        assert!(matches!(Bundle::open(&b.seal(&r).expect("seal"), &ids), Err(BundleError::Manifest(_))));
    }

    #[test]
    fn a_small_archive_cannot_inflate_past_the_limit() {
        let data = vec![0u8; 200_000];
        let tar = raw_tar(&[("big", tar::EntryType::Regular, &data)]);
        let compressed = zstd::bulk::compress(&tar, 3).expect("zstd");
        assert!(compressed.len() < 1000);
        assert!(matches!(read_within(&compressed, 100_000), Err(BundleError::TooLarge(_))));
        assert!(read_within(&compressed, 1_000_000).is_ok());
        assert!(matches!(read_within(&compressed[..compressed.len() / 2], 1_000_000), Err(BundleError::Archive(_))));
    }
}
