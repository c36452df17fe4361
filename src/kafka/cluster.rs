//! One Kafka cluster as the engine sees it: its clients (admin, producer, a consumer for
//! metadata), the cached list of its topics and the cached definition of each table.
//!
//! Owns every call to the cluster's brokers except reading records (that is `scan`), and the
//! caches in front of them: a topic list and table definitions, each kept for
//! `metadata_ttl` and dropped at once by the gateway's own DDL. Errors that mean "the
//! cluster did not answer" become [`KafkaError::Unavailable`], which the gateway turns into a
//! 503; errors that mean "the cluster said no" become [`KafkaError::Refused`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::future::join_all;
use moka::future::Cache;
use rdkafka::ClientConfig;
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, ConfigResource, ConfigSource, NewTopic,
    ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

use super::codec::Codec;
use super::config::KafkaClusterConfig;
use super::layout::{Record, TableLayout};
use super::subjects::SchemaStore;
use super::{KafkaError, schema_of};

/// A topic as the metadata reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Topic name (the table name).
    pub name: String,
    /// Partition ids.
    pub partitions: Vec<i32>,
}

/// A table: its topic, layout and codec.
#[derive(Debug)]
pub struct TopicTable {
    /// The topic's metadata when the definition was built.
    pub topic: TopicInfo,
    /// Columns and how they map onto records.
    pub layout: TableLayout,
    /// Decoder/encoder for the layout.
    pub codec: Codec,
}

/// The topic configs a Kafka-backed table's options are read from (see
/// [`super::ddl::shown_options`]).
pub const TABLE_CONFIGS: &[&str] = &[
    "cleanup.policy",
    "max.message.bytes",
    "message.timestamp.type",
    "retention.bytes",
    "retention.ms",
];

/// Whether a topic is internal to Kafka, Schema Registry or a gateway (`__consumer_offsets`,
/// `_schemas`, `_sqlgate_schemas`, `_confluent-…`): such topics are never tables.
pub fn is_internal(topic: &str) -> bool {
    topic.starts_with('_')
}

/// The clients of one cluster, replaced together.
struct Clients {
    admin: AdminClient<DefaultClientContext>,
    producer: FutureProducer,
    metadata: Arc<BaseConsumer>,
}

impl Clients {
    fn new(cfg: &KafkaClusterConfig) -> rdkafka::error::KafkaResult<Self> {
        Ok(Self {
            admin: cfg.client_config().create()?,
            producer: KafkaCluster::producer_of(cfg)?,
            metadata: Arc::new(KafkaCluster::consumer_config_of(cfg).create()?),
        })
    }
}

/// A Kafka cluster backing one database.
pub struct KafkaCluster {
    /// The database's canonical id (`lkc-…`), for messages.
    id: String,
    cfg: KafkaClusterConfig,
    /// Replaced after the cluster failed to answer: a cluster that comes back may not know the
    /// producer's idempotence state (every later send would fail), and clients that lived
    /// through a broker that came back with recreated topics can trip over their own stale
    /// metadata. Fresh clients cost one connection each.
    clients: RwLock<Arc<Clients>>,
    subjects: SchemaStore,
    topics: Cache<(), Arc<BTreeMap<String, TopicInfo>>>,
    /// The last topic list fetched, for synchronous callers (DataFusion's `table_names`).
    last_topics: RwLock<Arc<BTreeMap<String, TopicInfo>>>,
    tables: Cache<String, Arc<TopicTable>>,
    /// The configs of each topic that [`table_configs`](Self::table_configs) reads (SHOW
    /// CREATE TABLE, INFORMATION_SCHEMA), kept like `tables`.
    configs: Cache<String, Arc<BTreeMap<String, String>>>,
}

impl std::fmt::Debug for KafkaCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaCluster")
            .field("id", &self.id)
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl KafkaCluster {
    /// Creates the cluster's clients. Nothing connects yet: a cluster that is down at start
    /// only makes the statements that touch it fail (503) until it is back.
    pub fn new(id: &str, cfg: &KafkaClusterConfig) -> Result<Self, KafkaError> {
        let unavailable = |e: rdkafka::error::KafkaError| KafkaError::Unavailable {
            cluster: id.to_string(),
            bootstrap: cfg.bootstrap_servers.clone(),
            reason: e.to_string(),
        };
        let clients = RwLock::new(Arc::new(Clients::new(cfg).map_err(unavailable)?));
        let subjects = SchemaStore::new(cfg).map_err(KafkaError::from)?;
        Ok(Self {
            id: id.to_string(),
            cfg: cfg.clone(),
            clients,
            subjects,
            topics: Cache::builder()
                .max_capacity(1)
                .time_to_live(cfg.metadata_ttl)
                .build(),
            last_topics: RwLock::new(Arc::new(BTreeMap::new())),
            tables: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(cfg.metadata_ttl)
                .build(),
            configs: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(cfg.metadata_ttl)
                .build(),
        })
    }

    fn producer_of(cfg: &KafkaClusterConfig) -> rdkafka::error::KafkaResult<FutureProducer> {
        cfg.client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set(
                "message.timeout.ms",
                cfg.request_timeout.as_millis().max(1000).to_string(),
            )
            .create()
    }

    fn consumer_config_of(cfg: &KafkaClusterConfig) -> ClientConfig {
        let mut c = cfg.client_config();
        c.set("group.id", "sqlgate-scan")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", "earliest")
            .set("allow.auto.create.topics", "false");
        c
    }

    /// The configuration of a consumer that reads a table's records (assigned partitions, no
    /// group membership, no commits).
    pub fn consumer_config(&self) -> ClientConfig {
        Self::consumer_config_of(&self.cfg)
    }

    /// The database id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The cluster's settings.
    pub fn config(&self) -> &KafkaClusterConfig {
        &self.cfg
    }

    /// Where the table schemas live.
    pub fn subjects(&self) -> &SchemaStore {
        &self.subjects
    }

    fn clients(&self) -> Arc<Clients> {
        self.clients
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Replaces the clients if `result` says the cluster did not answer.
    fn renew_if_unavailable<T>(&self, result: &Result<T, KafkaError>) {
        if !matches!(result, Err(e) if e.is_unavailable()) {
            return;
        }
        let Ok(fresh) = Clients::new(&self.cfg) else {
            return;
        };
        let old = match self.clients.write() {
            Ok(mut slot) => std::mem::replace(&mut *slot, Arc::new(fresh)),
            Err(_) => return,
        };
        // Closing a client may wait on the network: not on an async thread.
        tokio::task::spawn_blocking(move || drop(old));
    }

    pub(crate) fn unavailable(&self, reason: impl std::fmt::Display) -> KafkaError {
        KafkaError::Unavailable {
            cluster: self.id.clone(),
            bootstrap: self.cfg.bootstrap_servers.clone(),
            reason: reason.to_string(),
        }
    }

    fn timeout(&self) -> Duration {
        self.cfg.request_timeout
    }

    fn admin_options(&self) -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(self.timeout()))
            .operation_timeout(Some(self.timeout()))
    }

    /// Fetches metadata of every topic (`None`) or of one, off the async threads.
    async fn fetch(&self, topic: Option<String>) -> Result<Vec<TopicInfo>, KafkaError> {
        let result = self.fetch_with(topic).await;
        self.renew_if_unavailable(&result);
        result
    }

    async fn fetch_with(&self, topic: Option<String>) -> Result<Vec<TopicInfo>, KafkaError> {
        let consumer = self.clients().metadata.clone();
        let timeout = self.timeout();
        let md = tokio::task::spawn_blocking(move || {
            consumer.fetch_metadata(topic.as_deref(), Timeout::After(timeout))
        })
        .await
        .map_err(|e| KafkaError::Internal(e.to_string()))?
        .map_err(|e| self.unavailable(e))?;
        Ok(md
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| TopicInfo {
                name: t.name().to_string(),
                partitions: t.partitions().iter().map(|p| p.id()).collect(),
            })
            .collect())
    }

    /// Every table topic (internal topics left out), cached for `metadata_ttl`.
    pub async fn topics(&self) -> Result<Arc<BTreeMap<String, TopicInfo>>, KafkaError> {
        let list = self
            .topics
            .try_get_with((), async {
                let all = self.fetch(None).await?;
                let map: BTreeMap<String, TopicInfo> = all
                    .into_iter()
                    .filter(|t| !is_internal(&t.name))
                    .map(|t| (t.name.clone(), t))
                    .collect();
                Ok::<_, KafkaError>(Arc::new(map))
            })
            .await
            .map_err(|e| (*e).clone())?;
        if let Ok(mut last) = self.last_topics.write() {
            *last = list.clone();
        }
        Ok(list)
    }

    /// The last topic list fetched (possibly stale, possibly empty); never calls Kafka.
    pub fn known_topics(&self) -> Arc<BTreeMap<String, TopicInfo>> {
        self.last_topics
            .read()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// One topic's metadata, `None` if it does not exist. A topic created outside the gateway
    /// since the list was cached is found too (it is looked up by name on a miss).
    pub async fn topic(&self, name: &str) -> Result<Option<TopicInfo>, KafkaError> {
        if is_internal(name) {
            return Ok(None);
        }
        if let Some(t) = self.topics().await?.get(name) {
            return Ok(Some(t.clone()));
        }
        let found = self.fetch(Some(name.to_string())).await?;
        Ok(found
            .into_iter()
            .find(|t| t.name == name && !t.partitions.is_empty()))
    }

    /// The table over topic `name` (`None` if the topic does not exist), cached.
    pub async fn table(&self, name: &str) -> Result<Option<Arc<TopicTable>>, KafkaError> {
        if let Some(t) = self.tables.get(name).await {
            return Ok(Some(t));
        }
        let Some(topic) = self.topic(name).await? else {
            return Ok(None);
        };
        let value = self
            .subjects
            .latest(&format!("{name}-value"))
            .await
            .map_err(KafkaError::from)?;
        let key = self
            .subjects
            .latest(&format!("{name}-key"))
            .await
            .map_err(KafkaError::from)?;
        let layout = schema_of::layout(name, key, value)?;
        let codec = Codec::new(&layout).map_err(KafkaError::from)?;
        let table = Arc::new(TopicTable {
            topic,
            layout,
            codec,
        });
        self.tables.insert(name.to_string(), table.clone()).await;
        Ok(Some(table))
    }

    /// Drops what is cached about `topic` and the topic list (after DDL on it).
    pub async fn invalidate(&self, topic: &str) {
        self.tables.invalidate(topic).await;
        self.configs.invalidate(topic).await;
        self.topics.invalidate(&()).await;
    }

    /// The configs of topic `name` that a table's options show ([`TABLE_CONFIGS`]), as the
    /// brokers report them now (set on the topic or the brokers' defaults), cached for
    /// `metadata_ttl`. A config the brokers do not report is absent.
    pub async fn table_configs(
        &self,
        name: &str,
    ) -> Result<Arc<BTreeMap<String, String>>, KafkaError> {
        if let Some(c) = self.configs.get(name).await {
            return Ok(c);
        }
        let resource = self.describe_topic(name).await?;
        let configs: BTreeMap<String, String> = resource
            .entries
            .into_iter()
            .filter(|e| TABLE_CONFIGS.contains(&e.name.as_str()) && !e.is_sensitive)
            .filter_map(|e| Some((e.name, e.value?)))
            .collect();
        let configs = Arc::new(configs);
        self.configs.insert(name.to_string(), configs.clone()).await;
        Ok(configs)
    }

    /// The topic's configs as the brokers describe them.
    async fn describe_topic(&self, name: &str) -> Result<ConfigResource, KafkaError> {
        let results = self
            .clients()
            .admin
            .describe_configs([&ResourceSpecifier::Topic(name)], &self.admin_options())
            .await
            .map_err(|e| self.admin_error("describe", name, e));
        self.renew_if_unavailable(&results);
        match results?.into_iter().next() {
            Some(Ok(r)) => Ok(r),
            Some(Err(code)) => Err(self.refused("describe", name, code)),
            None => Err(KafkaError::Internal("no result from describe".into())),
        }
    }

    /// Creates a topic. `Refused` with the broker's reason if it says no (exists, bad config).
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), KafkaError> {
        let mut topic = NewTopic::new(
            name,
            partitions,
            TopicReplication::Fixed(self.cfg.replication_factor),
        );
        for (k, v) in configs {
            topic = topic.set(k, v);
        }
        let results = self
            .clients()
            .admin
            .create_topics([&topic], &self.admin_options())
            .await;
        self.admin_outcome("create", name, results).await
    }

    /// Deletes a topic.
    pub async fn delete_topic(&self, name: &str) -> Result<(), KafkaError> {
        let results = self
            .clients()
            .admin
            .delete_topics(&[name], &self.admin_options())
            .await;
        self.admin_outcome("delete", name, results).await
    }

    /// Sets topic configs (`retention.ms`, `cleanup.policy`, …), keeping the others set on
    /// the topic: Kafka's AlterConfigs (the one librdkafka offers) replaces the topic's whole
    /// set, so the configs set on it now are sent along with the new ones.
    pub async fn alter_topic(
        &self,
        name: &str,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), KafkaError> {
        let mut merged: BTreeMap<String, String> = self
            .describe_topic(name)
            .await?
            .entries
            .into_iter()
            .filter(|e| e.source == ConfigSource::DynamicTopic)
            .filter_map(|e| Some((e.name, e.value?)))
            .collect();
        merged.extend(configs.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut alter = AlterConfig::new(ResourceSpecifier::Topic(name));
        for (k, v) in &merged {
            alter = alter.set(k, v);
        }
        let results = self
            .clients()
            .admin
            .alter_configs([&alter], &self.admin_options())
            .await;
        self.admin_outcome("alter", name, results).await
    }

    /// The outcome of an admin request on one topic: renews the clients if the cluster did
    /// not answer, drops what is cached about the topic once the request got through, and
    /// maps the topic's own result.
    async fn admin_outcome<T>(
        &self,
        operation: &'static str,
        name: &str,
        results: rdkafka::error::KafkaResult<Vec<Result<T, (T, RDKafkaErrorCode)>>>,
    ) -> Result<(), KafkaError> {
        let results = results.map_err(|e| self.admin_error(operation, name, e));
        self.renew_if_unavailable(&results);
        let results = results?;
        self.invalidate(name).await;
        match results.into_iter().next() {
            Some(Ok(_)) => Ok(()),
            Some(Err((_, code))) => Err(self.refused(operation, name, code)),
            None => Err(KafkaError::Internal(format!("no result from {operation}"))),
        }
    }

    /// An admin request that failed as a whole: the cluster's absence, or its refusal
    /// (e.g. a broker that does not implement the operation).
    fn admin_error(
        &self,
        operation: &'static str,
        topic: &str,
        e: rdkafka::error::KafkaError,
    ) -> KafkaError {
        match e {
            rdkafka::error::KafkaError::AdminOp(code) => self.refused(operation, topic, code),
            other => match other.rdkafka_error_code() {
                Some(code) => self.refused(operation, topic, code),
                None => self.unavailable(other),
            },
        }
    }

    fn refused(&self, operation: &'static str, topic: &str, code: RDKafkaErrorCode) -> KafkaError {
        match code {
            RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::BrokerNotAvailable
            | RDKafkaErrorCode::NetworkException
            | RDKafkaErrorCode::MessageTimedOut
            | RDKafkaErrorCode::TimedOutQueue => self.unavailable(code),
            RDKafkaErrorCode::TopicAlreadyExists => KafkaError::TopicExists(topic.to_string()),
            RDKafkaErrorCode::UnknownTopicOrPartition => {
                KafkaError::TopicNotFound(topic.to_string())
            }
            other => KafkaError::Refused {
                operation,
                topic: topic.to_string(),
                reason: other.to_string(),
            },
        }
    }

    /// The low and high watermark of each partition (the broker's view now).
    pub async fn watermarks(
        &self,
        topic: &TopicInfo,
    ) -> Result<HashMap<i32, (i64, i64)>, KafkaError> {
        let consumer = self.clients().metadata.clone();
        let timeout = self.timeout();
        let t = topic.clone();
        let marks = tokio::task::spawn_blocking(move || {
            t.partitions
                .iter()
                .map(|p| {
                    consumer
                        .fetch_watermarks(&t.name, *p, Timeout::After(timeout))
                        .map(|w| (*p, w))
                })
                .collect::<Result<HashMap<_, _>, _>>()
        })
        .await
        .map_err(|e| KafkaError::Internal(e.to_string()))?
        .map_err(|e| self.unavailable(e))?;
        Ok(marks)
    }

    /// Produces `records` to `topic` and waits until every one is acknowledged (idempotent
    /// producer, `acks=all`). Returns how many were written.
    pub async fn produce(&self, topic: &str, records: Vec<Record>) -> Result<u64, KafkaError> {
        let clients = self.clients();
        let result = self.send_all(&clients.producer, topic, &records).await;
        drop(clients);
        self.renew_if_unavailable(&result);
        result
    }

    async fn send_all(
        &self,
        producer: &FutureProducer,
        topic: &str,
        records: &[Record],
    ) -> Result<u64, KafkaError> {
        let sends = records.iter().map(|r| {
            let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic);
            if let Some(k) = &r.key {
                fr = fr.key(k.as_slice());
            }
            if let Some(v) = &r.value {
                fr = fr.payload(v.as_slice());
            }
            if let Some(ts) = r.timestamp_ms {
                fr = fr.timestamp(ts);
            }
            producer.send(fr, Timeout::After(self.timeout()))
        });
        let mut written = 0;
        for result in join_all(sends).await {
            match result {
                Ok(_) => written += 1,
                Err((e, _)) => {
                    return Err(match e.rdkafka_error_code() {
                        Some(RDKafkaErrorCode::UnknownTopicOrPartition) => {
                            KafkaError::TopicNotFound(topic.to_string())
                        }
                        Some(RDKafkaErrorCode::MessageSizeTooLarge) => KafkaError::Refused {
                            operation: "produce",
                            topic: topic.to_string(),
                            reason: e.to_string(),
                        },
                        _ => self.unavailable(e),
                    });
                }
            }
        }
        Ok(written)
    }
}
