//! Durable storage of user tables: one directory per table under `<data_dir>/tables/`, holding
//! `schema.json` and one Arrow IPC file per acknowledged INSERT.
//!
//! Layout: `tables/<catalog>/<database>/<table>/` (each part percent-encoded), with
//! `schema.json` and `00000000000000000001.arrow`, `…2.arrow`, … . Every file is written to a
//! temporary name, fsynced, renamed into place, and its directory fsynced, so a file that exists
//! under its final name is complete: nothing acknowledged is lost and nothing half-written is
//! ever loaded. A table is created by renaming a fully written temp directory into place, and
//! dropped by renaming it away before deleting it.
//!
//! Owns files only; it knows nothing of DataFusion sessions or SQL.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::FileWriter;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use crate::catalog::TableRef;

/// Characters kept verbatim in directory names; everything else (including `.`, `/`, `%`) is
/// percent-encoded so any table name maps to exactly one safe directory name.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_');
const SCHEMA_FILE: &str = "schema.json";
const DATA_EXT: &str = "arrow";
/// A rewrite's data file before its `schema.json` commits it (see [`TableStore::replace`]).
const PENDING_EXT: &str = "pending";
/// Prefix of scratch entries (half-created tables, half-written files, dropped tables);
/// anything with it is removed at startup.
const SCRATCH: &str = ".tmp-";

/// What `schema.json` holds: the table's identity, Flink column types and original DDL.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TableMeta {
    /// Layout version, for future migrations.
    pub(crate) format: u32,
    pub(crate) catalog: String,
    pub(crate) database: String,
    pub(crate) table: String,
    pub(crate) columns: Vec<ColumnMeta>,
    #[serde(default)]
    pub(crate) primary_key: Vec<String>,
    /// The statement that created the table, for audits (SHOW CREATE TABLE renders the
    /// table as it is now, from the fields above and below).
    pub(crate) ddl: String,
    /// The `WITH` options, in the order given (ALTER TABLE … SET replaces a key in place and
    /// appends a new one; RESET removes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) options: Vec<(String, String)>,
    /// `DISTRIBUTED BY (columns) INTO n BUCKETS`, kept as metadata (the table has no
    /// partitions; INFORMATION_SCHEMA and SHOW CREATE TABLE report it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) distribution: Option<StoredDistribution>,
    /// Data files numbered below this are obsolete (a rewrite by ALTER or TRUNCATE made them
    /// so); see [`TableStore::replace`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) first_seq: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A table's `DISTRIBUTED BY` clause as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredDistribution {
    /// Key columns (empty: `DISTRIBUTED INTO n BUCKETS`).
    pub(crate) columns: Vec<String>,
    /// Buckets, if given.
    pub(crate) buckets: Option<i32>,
}

/// One column: name and Flink type text (including ` NOT NULL`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ColumnMeta {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) data_type: String,
}

impl TableMeta {
    pub(crate) fn table_ref(&self) -> TableRef {
        TableRef::new(&self.catalog, &self.database, &self.table)
    }
}

/// A table found on disk at startup.
#[derive(Debug)]
pub(crate) struct LoadedTable {
    pub(crate) meta: TableMeta,
    pub(crate) dir: PathBuf,
    pub(crate) batches: Vec<RecordBatch>,
    /// Sequence number for the next data file.
    pub(crate) next_seq: u64,
}

/// The `tables/` root.
#[derive(Debug, Clone)]
pub(crate) struct TableStore {
    root: PathBuf,
}

fn encode(part: &str) -> String {
    utf8_percent_encode(part, KEEP).to_string()
}

/// fsync a directory so a rename inside it is durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn scratch_name() -> String {
    format!("{SCRATCH}{}", uuid::Uuid::new_v4())
}

impl TableStore {
    /// Opens (creating) `<data_dir>/tables`.
    pub(crate) fn open(data_dir: &Path) -> io::Result<Self> {
        let root = data_dir.join("tables");
        fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    /// Directory of a table.
    pub(crate) fn dir_of(&self, t: &TableRef) -> PathBuf {
        self.root
            .join(encode(&t.catalog))
            .join(encode(&t.database))
            .join(encode(&t.table))
    }

    /// Creates the table directory with its `schema.json`, atomically. Fails with
    /// `AlreadyExists` if the table is already on disk.
    pub(crate) fn create(&self, meta: &TableMeta) -> io::Result<PathBuf> {
        let dir = self.dir_of(&meta.table_ref());
        let parent = dir
            .parent()
            .ok_or_else(|| io::Error::other("table directory has no parent"))?;
        fs::create_dir_all(parent)?;
        if dir.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "table directory exists",
            ));
        }
        let tmp = parent.join(scratch_name());
        fs::create_dir(&tmp)?;
        let result = (|| {
            let mut f = File::create(tmp.join(SCHEMA_FILE))?;
            f.write_all(&serde_json::to_vec_pretty(meta).map_err(io::Error::other)?)?;
            f.sync_all()?;
            sync_dir(&tmp)?;
            fs::rename(&tmp, &dir)?;
            sync_dir(parent)
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result.map(|()| dir)
    }

    /// Writes one INSERT's rows as data file number `seq`. Returns once the file is durable.
    pub(crate) fn append(
        dir: &Path,
        seq: u64,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> io::Result<()> {
        let tmp = dir.join(format!("{}{seq}", scratch_name()));
        let result = (|| {
            let file = File::create(&tmp)?;
            let mut writer = FileWriter::try_new(file, schema).map_err(io::Error::other)?;
            for b in batches {
                writer.write(b).map_err(io::Error::other)?;
            }
            writer.finish().map_err(io::Error::other)?;
            let file = writer.into_inner().map_err(io::Error::other)?;
            file.sync_all()?;
            fs::rename(&tmp, dir.join(format!("{seq:020}.{DATA_EXT}")))?;
            sync_dir(dir)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Removes a table's directory: renamed away first (durably), so a crash mid-delete never
    /// leaves a half-table that would load at the next start.
    pub(crate) fn remove(&self, dir: &Path) -> io::Result<()> {
        let parent = dir
            .parent()
            .ok_or_else(|| io::Error::other("table directory has no parent"))?;
        let trash = parent.join(scratch_name());
        fs::rename(dir, &trash)?;
        sync_dir(parent)?;
        fs::remove_dir_all(&trash)
    }

    /// Replaces a table's definition and all of its rows (ALTER TABLE, TRUNCATE), durably and
    /// atomically: the rows are written as data file `seq` under a pending name, then the new
    /// `schema.json` (with `first_seq = seq`) replaces the old one, which is the commit; then
    /// the pending file takes its final name and the older files are removed. A crash before
    /// the commit leaves the old table (the pending file is removed at load); after it, the
    /// load finishes the commit.
    pub(crate) fn replace(
        dir: &Path,
        meta: &TableMeta,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> io::Result<()> {
        let seq = meta.first_seq;
        let pending = dir.join(format!("{seq:020}.{PENDING_EXT}"));
        if !batches.is_empty() {
            let tmp = dir.join(format!("{}{seq}", scratch_name()));
            let written = (|| {
                write_arrow(&tmp, schema, batches)?;
                fs::rename(&tmp, &pending)?;
                sync_dir(dir)
            })();
            if written.is_err() {
                let _ = fs::remove_file(&tmp);
                let _ = fs::remove_file(&pending);
                return written;
            }
        }
        write_meta(dir, meta)?;
        finish_replace(dir, seq)
    }

    /// Renames a table: its `schema.json` gets the new name (`meta`), then its directory
    /// moves to the new name's. A crash between the two leaves the table under its new name
    /// in the old directory, which loads as the renamed table.
    pub(crate) fn rename(&self, dir: &Path, meta: &TableMeta) -> io::Result<PathBuf> {
        let to = self.dir_of(&meta.table_ref());
        let parent = to
            .parent()
            .ok_or_else(|| io::Error::other("table directory has no parent"))?;
        fs::create_dir_all(parent)?;
        if to.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "table directory exists",
            ));
        }
        write_meta(dir, meta)?;
        fs::rename(dir, &to)?;
        sync_dir(parent)?;
        if let Some(old) = dir.parent() {
            sync_dir(old)?;
        }
        Ok(to)
    }

    /// Loads every table on disk, cleaning up scratch entries left by a crash.
    pub(crate) fn load_all(&self) -> io::Result<Vec<LoadedTable>> {
        let mut out = Vec::new();
        for cat in subdirs(&self.root)? {
            for db in subdirs(&cat)? {
                for table in subdirs(&db)? {
                    out.push(self.load(&table)?);
                }
            }
        }
        Ok(out)
    }

    fn load(&self, dir: &Path) -> io::Result<LoadedTable> {
        let bad = |what: String| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {what}", dir.display()),
            )
        };
        let meta: TableMeta = serde_json::from_slice(&fs::read(dir.join(SCHEMA_FILE))?)
            .map_err(|e| bad(format!("invalid {SCHEMA_FILE}: {e}")))?;
        // A rewrite whose schema.json committed is finished; one that did not is undone.
        finish_replace(dir, meta.first_seq)?;
        let mut files = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(SCRATCH) {
                let _ = fs::remove_file(entry.path());
                continue;
            }
            if let Some(seq) = name
                .strip_suffix(&format!(".{DATA_EXT}"))
                .and_then(|s| s.parse::<u64>().ok())
                .filter(|seq| *seq >= meta.first_seq)
            {
                files.push((seq, entry.path()));
            }
        }
        files.sort();
        let next_seq = files
            .last()
            .map_or(1, |(s, _)| s + 1)
            .max(meta.first_seq + 1);
        let mut batches = Vec::new();
        for (_, path) in files {
            let reader = FileReader::try_new(File::open(&path)?, None)
                .map_err(|e| bad(format!("{}: {e}", path.display())))?;
            for b in reader {
                batches.push(b.map_err(|e| bad(format!("{}: {e}", path.display())))?);
            }
        }
        Ok(LoadedTable {
            meta,
            dir: dir.to_path_buf(),
            batches,
            next_seq,
        })
    }
}

/// Writes `batches` as one Arrow IPC file at `path`, synced.
fn write_arrow(path: &Path, schema: &SchemaRef, batches: &[RecordBatch]) -> io::Result<()> {
    let file = File::create(path)?;
    let mut writer = FileWriter::try_new(file, schema).map_err(io::Error::other)?;
    for b in batches {
        writer.write(b).map_err(io::Error::other)?;
    }
    writer.finish().map_err(io::Error::other)?;
    writer.into_inner().map_err(io::Error::other)?.sync_all()
}

/// Replaces `schema.json` in `dir` atomically (temp file, sync, rename, sync the directory).
fn write_meta(dir: &Path, meta: &TableMeta) -> io::Result<()> {
    let tmp = dir.join(scratch_name());
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(meta).map_err(io::Error::other)?)?;
        f.sync_all()?;
        fs::rename(&tmp, dir.join(SCHEMA_FILE))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// After `schema.json` says `first_seq`: the pending data file `first_seq` takes its final
/// name, any other pending file and every data file numbered below `first_seq` is removed.
fn finish_replace(dir: &Path, first_seq: u64) -> io::Result<()> {
    let mut changed = false;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(seq) = name
            .strip_suffix(&format!(".{PENDING_EXT}"))
            .and_then(|s| s.parse::<u64>().ok())
        {
            if seq == first_seq {
                fs::rename(entry.path(), dir.join(format!("{seq:020}.{DATA_EXT}")))?;
            } else {
                fs::remove_file(entry.path())?;
            }
            changed = true;
        } else if let Some(seq) = name
            .strip_suffix(&format!(".{DATA_EXT}"))
            .and_then(|s| s.parse::<u64>().ok())
            && seq < first_seq
        {
            fs::remove_file(entry.path())?;
            changed = true;
        }
    }
    if changed {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Sub-directories of `dir`, removing scratch ones.
fn subdirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(SCRATCH) {
            let _ = fs::remove_dir_all(entry.path());
            continue;
        }
        if entry.file_type()?.is_dir() {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}
