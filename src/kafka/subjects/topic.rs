//! Subjects in a compacted topic of the cluster (`schemas_topic`), for clusters without a
//! Schema Registry: what a registry would keep, kept where the tables are, so a restart
//! loses nothing.
//!
//! Owns the topic's record format, its creation, reading it into memory and writing to it.
//!
//! ## Topic
//! One partition, `cleanup.policy=compact`, created on first use (replication factor from the
//! cluster config; a topic that exists already is used as it is). Record key: the subject
//! name (UTF-8). Value: JSON `{"subject", "version", "id", "schemaType", "schema"}`, the
//! subject's latest version (compaction keeps only that). Deleting a subject writes a
//! tombstone (null value). The key [`MAX_ID_KEY`] (not a possible `<topic>-key|value` subject:
//! `#` cannot appear in a topic name) records the highest id handed out, written before a
//! delete so that ids of deleted subjects are never handed out again.
//!
//! ## Reading and consistency
//! The whole partition is read from the beginning up to the partition EOF (not up to the high
//! watermark, which some brokers under-report); the last value per key wins, a tombstone
//! removes the subject. The result is kept in memory and read again when older than
//! `metadata_ttl` (so gateways sharing a cluster converge) and before every write (so ids and
//! versions continue from what other gateways wrote). Our own writes update it in place.
//! The consumer is kept between reads (partition unassigned while idle), so a re-read costs
//! one fetch rather than a new connection.
//! Every schema record read is also kept by id, so a record framed with an older version's
//! id still decodes (until compaction has dropped that version from the topic).
//! Ids: highest id seen + 1, registry-wide. Versions: per subject, latest + 1 (a subject
//! deleted and created again starts at 1, as after a registry's permanent delete).
//! Writes go through an idempotent producer (`acks=all`) and are awaited; register and
//! delete are serialized in this process by one lock. Two gateways writing the same subject
//! at the same instant can still both win a version number; the last write is what stays.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{RegisteredSchema, SchemaType, SubjectError};
use crate::kafka::KafkaClusterConfig;

/// The one partition subjects are written to and read from.
const PARTITION: i32 = 0;
/// Key of the record holding the highest id handed out (see the module doc).
const MAX_ID_KEY: &str = "#max-id";
/// How long one consumer poll waits; the read as a whole is bounded by `request_timeout`.
const POLL: Duration = Duration::from_millis(100);
/// Extra time the delivery wait gets over librdkafka's own `message.timeout.ms`, so that
/// librdkafka's answer (with its reason) normally arrives first.
const DELIVERY_GRACE: Duration = Duration::from_secs(1);

/// The value of a subject's record.
#[derive(Serialize, Deserialize)]
struct StoredSchema {
    subject: String,
    version: i32,
    id: u32,
    #[serde(rename = "schemaType")]
    schema_type: SchemaType,
    schema: String,
}

/// The value of the [`MAX_ID_KEY`] record.
#[derive(Serialize, Deserialize)]
struct StoredMaxId {
    #[serde(rename = "maxId")]
    max_id: u32,
}

/// What the topic held when it was last read, plus our own writes since.
#[derive(Debug)]
struct Snapshot {
    subjects: BTreeMap<String, RegisteredSchema>,
    /// Highest id in any record read (deleted subjects' included) or written.
    max_id: u32,
    /// Every schema read or written, by id (older versions' and deleted subjects' included).
    ids: BTreeMap<u32, (SchemaType, String)>,
    read_at: Instant,
}

/// The compacted-topic backend of one cluster.
pub(super) struct TopicStore {
    cfg: KafkaClusterConfig,
    /// Set once the topic is known to exist; retried on the next call after a failure.
    /// The topic was seen or created; cleared when a read fails (the cluster may have come
    /// back without it), so the next read checks again.
    topic_ready: AtomicBool,
    /// The in-memory subjects; held across a refresh and across a whole register/delete,
    /// which serializes writers (and keeps readers from refreshing twice at once).
    state: Mutex<Option<Snapshot>>,
}

impl fmt::Debug for TopicStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TopicStore")
            .field("topic", &self.cfg.schemas_topic)
            .field("bootstrap_servers", &self.cfg.bootstrap_servers)
            .finish()
    }
}

// === impl TopicStore ===

impl TopicStore {
    pub(super) fn new(cfg: &KafkaClusterConfig) -> Result<Self, SubjectError> {
        if cfg.schemas_topic.trim().is_empty() {
            return Err(SubjectError::Invalid("schemas_topic is empty".into()));
        }
        Ok(Self {
            cfg: cfg.clone(),
            topic_ready: AtomicBool::new(false),
            state: Mutex::new(None),
        })
    }

    pub(super) async fn latest(
        &self,
        subject: &str,
    ) -> Result<Option<RegisteredSchema>, SubjectError> {
        let mut state = self.state.lock().await;
        let snap = self.fresh(&mut state, false).await?;
        Ok(snap.subjects.get(subject).cloned())
    }

    pub(super) async fn subjects(&self) -> Result<Vec<String>, SubjectError> {
        let mut state = self.state.lock().await;
        let snap = self.fresh(&mut state, false).await?;
        Ok(snap.subjects.keys().cloned().collect())
    }

    pub(super) async fn register(
        &self,
        subject: &str,
        schema_type: SchemaType,
        schema: &str,
    ) -> Result<RegisteredSchema, SubjectError> {
        if subject == MAX_ID_KEY {
            return Err(SubjectError::Invalid(format!(
                "`{MAX_ID_KEY}` is reserved in the schemas topic"
            )));
        }
        let mut state = self.state.lock().await;
        let snap = self.fresh(&mut state, true).await?;
        let current = snap.subjects.get(subject);
        if let Some(cur) = current
            && cur.schema_type == schema_type
            && cur.schema == schema
        {
            return Ok(cur.clone());
        }
        let id = snap.max_id.checked_add(1).ok_or_else(|| {
            SubjectError::Rejected("the schemas topic has handed out every schema id".into())
        })?;
        let registered = RegisteredSchema {
            subject: subject.to_string(),
            version: current.map_or(1, |c| c.version.saturating_add(1)),
            id,
            schema_type,
            schema: schema.to_string(),
        };
        let value = serde_json::to_vec(&StoredSchema {
            subject: subject.to_string(),
            version: registered.version,
            id,
            schema_type,
            schema: schema.to_string(),
        })
        .map_err(|e| self.unavailable(format!("encode `{subject}`: {e}")))?;
        if let Err(e) = self.write(subject, Some(&value)).await {
            // The record may still land: read the topic again next time.
            *state = None;
            return Err(e);
        }
        snap.max_id = id;
        snap.ids.insert(id, (schema_type, schema.to_string()));
        snap.subjects
            .insert(subject.to_string(), registered.clone());
        Ok(registered)
    }

    pub(super) async fn schema_by_id(
        &self,
        id: u32,
    ) -> Result<Option<(SchemaType, String)>, SubjectError> {
        let mut state = self.state.lock().await;
        if let Some(found) = self.fresh(&mut state, false).await?.ids.get(&id) {
            return Ok(Some(found.clone()));
        }
        // Unknown here: another gateway may have registered it since the last read.
        Ok(self.fresh(&mut state, true).await?.ids.get(&id).cloned())
    }

    pub(super) async fn delete(&self, subject: &str) -> Result<bool, SubjectError> {
        let mut state = self.state.lock().await;
        let snap = self.fresh(&mut state, true).await?;
        if !snap.subjects.contains_key(subject) {
            return Ok(false);
        }
        let max = serde_json::to_vec(&StoredMaxId {
            max_id: snap.max_id,
        })
        .map_err(|e| self.unavailable(format!("encode the max id: {e}")))?;
        let written = match self.write(MAX_ID_KEY, Some(&max)).await {
            Ok(()) => self.write(subject, None).await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            *state = None;
            return Err(e);
        }
        snap.subjects.remove(subject);
        Ok(true)
    }

    /// The snapshot, read again when there is none, when it is older than `metadata_ttl`,
    /// or when `reread` (before a write).
    async fn fresh<'a>(
        &self,
        state: &'a mut Option<Snapshot>,
        reread: bool,
    ) -> Result<&'a mut Snapshot, SubjectError> {
        let snap = match state.take() {
            Some(s) if !reread && s.read_at.elapsed() < self.cfg.metadata_ttl => s,
            _ => self.read().await?,
        };
        Ok(state.insert(snap))
    }

    /// Reads the whole topic (creating it first if it is missing).
    async fn read(&self) -> Result<Snapshot, SubjectError> {
        if !self.topic_ready.load(Ordering::Acquire) {
            self.create_topic_if_missing().await?;
            self.topic_ready.store(true, Ordering::Release);
        }
        // A consumer per read, closed right after: an idle client keeps refreshing the
        // metadata of topics it knows, which a read every `metadata_ttl` does not need.
        let consumer = self.new_consumer()?;
        let (topic, timeout) = (self.cfg.schemas_topic.clone(), self.cfg.request_timeout);
        let read = tokio::task::spawn_blocking(move || {
            let r = read_topic(&consumer, &topic, timeout);
            drop(consumer);
            r
        })
        .await
        .map_err(|e| self.unavailable(format!("the read task failed: {e}")))
        .and_then(|r| r.map_err(|e| self.unavailable(e)));
        if read.is_err() {
            self.topic_ready.store(false, Ordering::Release);
        }
        let Contents {
            subjects,
            max_id,
            ids,
        } = read?;
        Ok(Snapshot {
            subjects,
            max_id,
            ids,
            read_at: Instant::now(),
        })
    }

    fn new_consumer(&self) -> Result<BaseConsumer, SubjectError> {
        let mut cc = self.client_config();
        // A group id is required by librdkafka, but partitions are assigned, never
        // subscribed, and no offset is ever committed.
        cc.set("group.id", "sqlgate-schemas")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            // The end of the partition is found by an empty fetch: do not let the broker
            // hold it (only fetched while a read is under way, see `read_topic`).
            .set("fetch.wait.max.ms", "10");
        cc.create()
            .map_err(|e| self.unavailable(format!("create a Kafka consumer: {e}")))
    }

    async fn create_topic_if_missing(&self) -> Result<(), SubjectError> {
        let topic = self.cfg.schemas_topic.clone();
        let timeout = self.cfg.request_timeout;
        let admin: AdminClient<DefaultClientContext> = self
            .client_config()
            .create()
            .map_err(|e| self.unavailable(format!("create a Kafka admin client: {e}")))?;
        let (admin, exists) = {
            let topic = topic.clone();
            tokio::task::spawn_blocking(move || {
                let md = admin.inner().fetch_metadata(Some(&topic), timeout);
                let exists = md.map(|md| {
                    md.topics().iter().any(|t| {
                        t.name() == topic && t.error().is_none() && !t.partitions().is_empty()
                    })
                });
                (admin, exists)
            })
            .await
            .map_err(|e| self.unavailable(format!("the metadata task failed: {e}")))?
        };
        if exists.map_err(|e| self.unavailable(format!("metadata: {e}")))? {
            return Ok(());
        }
        let new = NewTopic::new(
            &topic,
            1,
            TopicReplication::Fixed(self.cfg.replication_factor),
        )
        .set("cleanup.policy", "compact");
        let opts = AdminOptions::new()
            .operation_timeout(Some(timeout))
            .request_timeout(Some(timeout));
        let results =
            tokio::time::timeout(timeout + DELIVERY_GRACE, admin.create_topics([&new], &opts))
                .await
                .map_err(|_| self.unavailable(format!("creating the topic took over {timeout:?}")))?
                .map_err(|e| self.unavailable(format!("create the topic: {e}")))?;
        for r in results {
            match r {
                Ok(_) => {
                    tracing::info!(target: "sqlgate::engine", topic = %topic, "created the schemas topic");
                }
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => {
                    return Err(self.unavailable(format!("create the topic: {code}")));
                }
            }
        }
        Ok(())
    }

    /// Writes one record (`None`: a tombstone) and waits for its acknowledgement.
    async fn write(&self, key: &str, value: Option<&[u8]>) -> Result<(), SubjectError> {
        // A producer per write (writes are DDL, rare), closed right after: see `read`.
        let mut pc = self.client_config();
        pc.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0")
            .set(
                "message.timeout.ms",
                self.cfg.request_timeout.as_millis().max(1).to_string(),
            );
        let producer = pc
            .create::<FutureProducer>()
            .map_err(|e| self.unavailable(format!("create a Kafka producer: {e}")))?;
        let mut record = FutureRecord::<str, [u8]>::to(&self.cfg.schemas_topic)
            .partition(PARTITION)
            .key(key);
        if let Some(v) = value {
            record = record.payload(v);
        }
        let wait = self.cfg.request_timeout + DELIVERY_GRACE;
        let result =
            match tokio::time::timeout(wait, producer.send(record, self.cfg.request_timeout)).await
            {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((e, _))) => Err(self.unavailable(format!("write `{key}`: {e}"))),
                Err(_) => {
                    Err(self
                        .unavailable(format!("write `{key}`: not acknowledged within {wait:?}")))
                }
            };
        if result.is_err() {
            self.topic_ready.store(false, Ordering::Release);
        }
        // Closing flushes and may wait on the network: not on an async thread.
        tokio::task::spawn_blocking(move || drop(producer));
        result
    }

    /// The cluster's client settings, never creating topics implicitly (a topic made by
    /// auto-creation would not be compacted).
    fn client_config(&self) -> ClientConfig {
        let mut c = self.cfg.client_config();
        c.set("allow.auto.create.topics", "false");
        c
    }

    fn unavailable(&self, detail: impl fmt::Display) -> SubjectError {
        SubjectError::Unavailable(format!(
            "schemas topic `{}` on {}: {detail}",
            self.cfg.schemas_topic, self.cfg.bootstrap_servers
        ))
    }
}

/// What reading the topic found.
#[derive(Default)]
struct Contents {
    /// The current subjects.
    subjects: BTreeMap<String, RegisteredSchema>,
    /// The highest id seen.
    max_id: u32,
    /// Every schema record's schema, by id.
    ids: BTreeMap<u32, (SchemaType, String)>,
}

/// Reads partition 0 of `topic` from its beginning to its EOF within `timeout`. Blocking.
fn read_topic(consumer: &BaseConsumer, topic: &str, timeout: Duration) -> Result<Contents, String> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, PARTITION, Offset::Beginning)
        .map_err(|e| e.to_string())?;
    consumer.assign(&tpl).map_err(|e| format!("assign: {e}"))?;
    let read = read_to_eof(consumer, timeout);
    let _ = consumer.unassign();
    read
}

fn read_to_eof(consumer: &BaseConsumer, timeout: Duration) -> Result<Contents, String> {
    let deadline = std::time::Instant::now() + timeout;
    let mut contents = Contents::default();
    let mut last_error: Option<KafkaError> = None;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            let why = last_error.map_or_else(String::new, |e| format!(" (last error: {e})"));
            return Err(format!("not read to its end within {timeout:?}{why}"));
        }
        match consumer.poll(POLL.min(left)) {
            Some(Ok(m)) => contents.apply(m.key(), m.payload(), m.offset()),
            Some(Err(KafkaError::PartitionEOF(_))) => return Ok(contents),
            Some(Err(e)) => last_error = Some(e),
            None => {}
        }
    }
}

impl Contents {
    /// Applies one record to what was read so far.
    fn apply(&mut self, key: Option<&[u8]>, value: Option<&[u8]>, offset: i64) {
        let Contents {
            subjects,
            max_id,
            ids,
        } = self;
        let Some(key) = key.and_then(|k| std::str::from_utf8(k).ok()) else {
            tracing::warn!(target: "sqlgate::engine", offset, "schemas topic record without a UTF-8 key; ignored");
            return;
        };
        if key == MAX_ID_KEY {
            match value.map(serde_json::from_slice::<StoredMaxId>) {
                Some(Ok(m)) => *max_id = (*max_id).max(m.max_id),
                _ => {
                    tracing::warn!(target: "sqlgate::engine", offset, "unreadable max-id record in the schemas topic; ignored")
                }
            }
            return;
        }
        let Some(value) = value else {
            subjects.remove(key);
            return;
        };
        match serde_json::from_slice::<StoredSchema>(value) {
            Ok(s) => {
                *max_id = (*max_id).max(s.id);
                ids.insert(s.id, (s.schema_type, s.schema.clone()));
                subjects.insert(
                    key.to_string(),
                    RegisteredSchema {
                        subject: key.to_string(),
                        version: s.version,
                        id: s.id,
                        schema_type: s.schema_type,
                        schema: s.schema,
                    },
                );
            }
            Err(e) => {
                tracing::warn!(target: "sqlgate::engine", offset, subject = key, "unreadable schema record in the schemas topic ({e}); ignored");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(subject: &str, version: i32, id: u32) -> Vec<u8> {
        serde_json::to_vec(&StoredSchema {
            subject: subject.into(),
            version,
            id,
            schema_type: SchemaType::Json,
            schema: "{}".into(),
        })
        .unwrap()
    }

    #[test]
    fn last_value_wins_tombstones_remove_and_ids_never_go_back() {
        let mut c = Contents::default();
        let mut put = |k: &[u8], v: Option<Vec<u8>>| {
            c.apply(Some(k), v.as_deref(), 0);
        };
        put(b"a-value", Some(record("a-value", 1, 1)));
        put(b"b-value", Some(record("b-value", 1, 2)));
        put(b"a-value", Some(record("a-value", 2, 3)));
        put(b"junk", Some(b"not json".to_vec()));
        put(MAX_ID_KEY.as_bytes(), Some(br#"{"maxId":7}"#.to_vec()));
        put(b"a-value", None);
        assert_eq!(c.max_id, 7);
        assert_eq!(c.subjects.keys().collect::<Vec<_>>(), ["b-value"]);
        assert_eq!(c.subjects["b-value"].id, 2);
        // Schemas stay findable by id after a newer version or a delete.
        assert_eq!(c.ids.keys().collect::<Vec<_>>(), [&1, &2, &3]);
        // A record without a key is ignored.
        c.apply(None, Some(b"{}"), 9);
        assert_eq!(c.subjects.len(), 1);
    }

    #[test]
    fn stored_record_is_the_documented_json() {
        let v: serde_json::Value = serde_json::from_slice(&record("t-value", 2, 5)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"subject": "t-value", "version": 2, "id": 5,
                "schemaType": "JSON", "schema": "{}"})
        );
    }
}
