//! The view files: `<data_dir>/views/<catalog>/<database>.json`, one per database that has
//! views, written whole by scratch file, fsync, rename and directory fsync (see
//! [`super`]'s module doc). Catalog and database ids are written with every byte outside
//! `[A-Za-z0-9_-]` as `%XX`, so any id makes one safe file name.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ViewDef;

/// Layout version of a view file.
const FORMAT: u32 = 1;
/// Prefix of half-written files; removed at load.
const SCRATCH: &str = ".tmp-";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDisk {
    format: u32,
    views: Vec<ViewDef>,
}

/// `id` as one file-name component.
fn encode(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn file_of(dir: &Path, catalog: &str, database: &str) -> (PathBuf, PathBuf) {
    let parent = dir.join(encode(catalog));
    let file = parent.join(format!("{}.json", encode(database)));
    (parent, file)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Every view under `dir` (none if it does not exist). A file that does not parse is an
/// error naming it.
pub(super) fn load(dir: &Path) -> io::Result<Vec<ViewDef>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for catalog in fs::read_dir(dir)? {
        let catalog = catalog?.path();
        if !catalog.is_dir() {
            continue;
        }
        for entry in fs::read_dir(&catalog)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if name.starts_with(SCRATCH) {
                fs::remove_file(&path)?;
                continue;
            }
            if !name.ends_with(".json") {
                continue;
            }
            let text = fs::read_to_string(&path)?;
            let parsed: OnDisk = serde_json::from_str(&text).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?;
            if parsed.format != FORMAT {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{}: format {} (this gateway reads {FORMAT})",
                        path.display(),
                        parsed.format
                    ),
                ));
            }
            out.extend(parsed.views);
        }
    }
    Ok(out)
}

/// Replaces the file of `catalog.database` by `views` (removes it when there are none).
pub(super) fn write(
    dir: &Path,
    catalog: &str,
    database: &str,
    views: &[ViewDef],
) -> io::Result<()> {
    let (parent, file) = file_of(dir, catalog, database);
    fs::create_dir_all(&parent)?;
    if views.is_empty() {
        match fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        return sync_dir(&parent);
    }
    let body = serde_json::to_vec_pretty(&OnDisk {
        format: FORMAT,
        views: views.to_vec(),
    })
    .map_err(io::Error::other)?;
    let tmp = parent.join(format!("{SCRATCH}{}.json", encode(database)));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, &file)?;
    sync_dir(&parent)?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::TableRef;

    fn def(t: &str) -> ViewDef {
        ViewDef {
            name: TableRef::new("env dev", "lkc/1", t),
            columns: vec!["a".into()],
            comment: Some("c".into()),
            query: "SELECT 1".into(),
            created_by: "User:u".into(),
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn written_views_load_back_and_an_empty_set_removes_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("views");
        write(&dir, "env dev", "lkc/1", &[def("v"), def("w")]).unwrap();
        let mut names: Vec<String> = load(&dir)
            .unwrap()
            .into_iter()
            .map(|v| v.name.table)
            .collect();
        names.sort();
        assert_eq!(names, ["v", "w"]);
        assert!(dir.join("env%20dev").join("lkc%2F1.json").exists());
        write(&dir, "env dev", "lkc/1", &[]).unwrap();
        assert!(load(&dir).unwrap().is_empty());
    }

    #[test]
    fn a_damaged_file_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("views");
        fs::create_dir_all(dir.join("c")).unwrap();
        fs::write(dir.join("c").join("d.json"), "{not json").unwrap();
        let e = load(&dir).unwrap_err().to_string();
        assert!(e.contains("d.json"), "{e}");
    }
}
