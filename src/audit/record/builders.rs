//! The builders of [`AuditRecord`]: the envelope and one constructor per event type, and the
//! mapping of decisions to Confluent's authorization info. Moved from `record.rs` unchanged.

use super::*;

impl AuditRecord {
    pub(in crate::audit) fn envelope(event_type: &str, subject: String, data: AuditData) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            source: SOURCE.into(),
            specversion: "1.0".into(),
            event_type: event_type.into(),
            datacontenttype: "application/json".into(),
            subject,
            time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            data,
            sqlgateseq: None,
            sqlgateprevhash: None,
            sqlgatehash: None,
            sqlgatecontinues: None,
        }
    }

    /// A successful authentication (`flink.Authenticate`) on the Flink region
    /// `organization/environment/region` (the environment from the URL).
    pub fn authenticated(
        req: &RequestInfo,
        principal: &PrincipalInfo,
        organization: &str,
        environment: &str,
        region: &str,
    ) -> Self {
        let subject = region_crn(organization, environment, region);
        Self::envelope(
            TYPE_AUTHENTICATION,
            subject.clone(),
            AuditData {
                service_name: SOURCE.into(),
                method_name: "flink.Authenticate".into(),
                resource_name: subject,
                authentication_info: principal.authentication_info(),
                authorization_info: None,
                request_metadata: Some(req.metadata()),
                result: ResultInfo {
                    status: ResultStatus::Success,
                    message: String::new(),
                    code: None,
                },
                sqlgate: SqlgateInfo {
                    environment: Some(environment.into()),
                    region: Some(region.into()),
                    ..SqlgateInfo::default()
                },
            },
        )
    }

    /// A failed authentication; the principal is `User:ANONYMOUS` (nobody was let in). The
    /// attempt, if known, is in `data.sqlgate.attempt`; a verified token's identity claim is
    /// also the `identifier`, as on a successful authentication.
    pub fn authentication_failed(
        req: &RequestInfo,
        failure: &AuthnFailure,
        organization: &str,
        environment: &str,
        region: &str,
    ) -> Self {
        let subject = region_crn(organization, environment, region);
        Self::envelope(
            TYPE_AUTHENTICATION,
            subject.clone(),
            AuditData {
                service_name: SOURCE.into(),
                method_name: "flink.Authenticate".into(),
                resource_name: subject,
                authentication_info: AuthenticationInfo {
                    principal: ANONYMOUS.into(),
                    identity: None,
                    metadata: AuthnMetadata {
                        mechanism: failure.mechanism.clone(),
                        identifier: failure
                            .attempt
                            .as_ref()
                            .filter(|a| a.verified)
                            .and_then(|a| a.identity.clone()),
                    },
                },
                authorization_info: None,
                request_metadata: Some(req.metadata()),
                result: ResultInfo {
                    status: failure.status,
                    message: failure.message.clone(),
                    code: Some(failure.code.clone()),
                },
                sqlgate: SqlgateInfo {
                    environment: Some(environment.into()),
                    region: Some(region.into()),
                    attempt: failure.attempt.clone(),
                    ..SqlgateInfo::default()
                },
            },
        )
    }

    /// The authorization decision for a statement (`mds.Authorize`).
    pub fn authorization(
        req: &RequestInfo,
        principal: &PrincipalInfo,
        statement: &StatementInfo,
        outcome: &AuthzOutcome,
    ) -> Self {
        let subject = statement.crn();
        let authorization_info = outcome
            .decisive()
            .map(|d| authorization_info(outcome.granted, d));
        let mut sqlgate = statement.sqlgate();
        sqlgate.objects = outcome
            .run
            .iter()
            .chain(outcome.objects.iter())
            .cloned()
            .collect();
        sqlgate.policy_version = Some(outcome.policy_version.clone());
        Self::envelope(
            TYPE_AUTHORIZATION,
            subject.clone(),
            AuditData {
                service_name: SOURCE.into(),
                method_name: "mds.Authorize".into(),
                resource_name: authorization_info
                    .as_ref()
                    .and_then(|_| outcome.decisive().map(|d| d.crn.clone()))
                    .unwrap_or(subject),
                authentication_info: principal.authentication_info(),
                authorization_info,
                request_metadata: Some(req.metadata()),
                result: ResultInfo {
                    status: outcome.status,
                    message: outcome.message.clone(),
                    code: Some(outcome.code.clone()),
                },
                sqlgate,
            },
        )
    }

    /// A statement lifecycle change. `req` is the request that caused it (create, stop,
    /// delete), or the create request for changes the engine causes (running, completed,
    /// failed). `message` is the statement's status detail.
    pub fn statement(
        req: Option<&RequestInfo>,
        principal: &PrincipalInfo,
        statement: &StatementInfo,
        event: StatementEvent,
        message: &str,
    ) -> Self {
        let subject = statement.crn();
        let mut sqlgate = statement.sqlgate();
        sqlgate.phase = Some(event.phase().into());
        let failed = event == StatementEvent::Failed;
        Self::envelope(
            TYPE_STATEMENT,
            subject.clone(),
            AuditData {
                service_name: SOURCE.into(),
                method_name: event.method_name().into(),
                resource_name: subject,
                authentication_info: principal.authentication_info(),
                authorization_info: None,
                request_metadata: req.map(RequestInfo::metadata),
                result: ResultInfo {
                    status: if failed {
                        ResultStatus::Failure
                    } else {
                        ResultStatus::Success
                    },
                    message: message.into(),
                    code: failed.then(|| "statement.failed".to_string()),
                },
                sqlgate,
            },
        )
    }

    /// A policy-administration event: a reload of the policy files (applied or refused), or
    /// a role binding created, deleted or refused through the iam/v2 API. `actor` is who asked
    /// (`None` for a reload the file watcher made); `subject` the CRN it is about.
    #[allow(clippy::too_many_arguments)]
    pub fn policy(
        req: Option<&RequestInfo>,
        actor: Option<&PrincipalInfo>,
        subject: &str,
        method: &str,
        ok: bool,
        code: &str,
        message: &str,
        policy_version: Option<u64>,
    ) -> Self {
        let authentication_info = match actor {
            Some(p) => p.authentication_info(),
            None => AuthenticationInfo {
                principal: "User:sqlgate".into(),
                identity: None,
                metadata: AuthnMetadata {
                    mechanism: "INTERNAL".into(),
                    identifier: None,
                },
            },
        };
        Self::envelope(
            TYPE_REQUEST,
            subject.into(),
            AuditData {
                service_name: SOURCE.into(),
                method_name: method.into(),
                resource_name: subject.into(),
                authentication_info,
                authorization_info: None,
                request_metadata: req.map(RequestInfo::metadata),
                result: ResultInfo {
                    status: if ok {
                        ResultStatus::Success
                    } else {
                        ResultStatus::Failure
                    },
                    message: message.into(),
                    code: Some(code.into()),
                },
                sqlgate: SqlgateInfo {
                    policy_version: policy_version.map(|v| v.to_string()),
                    ..SqlgateInfo::default()
                },
            },
        )
    }

    /// The gateway's own record that it repaired the log's tail before continuing the chain.
    pub(crate) fn chain_recovered(message: String) -> Self {
        Self::envelope(
            TYPE_CHAIN,
            SOURCE.into(),
            AuditData {
                service_name: SOURCE.into(),
                method_name: "sqlgate.ChainRecovered".into(),
                resource_name: SOURCE.into(),
                authentication_info: AuthenticationInfo {
                    principal: "User:sqlgate".into(),
                    identity: None,
                    metadata: AuthnMetadata {
                        mechanism: "INTERNAL".into(),
                        identifier: None,
                    },
                },
                authorization_info: None,
                request_metadata: None,
                result: ResultInfo {
                    status: ResultStatus::Success,
                    message,
                    code: Some("audit.chain_recovered".into()),
                },
                sqlgate: SqlgateInfo::default(),
            },
        )
    }

    /// The gateway's own record that retention removed old files of the log (the cut is
    /// anchored by a signed retention checkpoint; this record tells a reader of the log).
    pub(crate) fn retention_cut(message: String) -> Self {
        let mut record = Self::chain_recovered(message);
        record.data.method_name = "sqlgate.RetentionCut".into();
        record.data.result.code = Some("audit.retention_cut".into());
        record
    }

    /// The same record with another `time` (tests, replays).
    pub fn with_time(mut self, time: &str) -> Self {
        self.time = time.into();
        self
    }
}

fn authorization_info(granted: bool, d: &ObjectDecision) -> AuthorizationInfo {
    let (resource_type, resource_name) = crn_resource(&d.crn);
    let rbac = d
        .binding
        .as_ref()
        .zip(d.role.as_ref())
        .filter(|_| d.granted);
    AuthorizationInfo {
        granted,
        operation: operation(&d.action).into(),
        resource_type,
        resource_name,
        pattern_type: rbac.map(|(b, _)| {
            if b.ends_with('*') {
                "PREFIXED".to_string()
            } else {
                "LITERAL".to_string()
            }
        }),
        rbac_authorization: rbac.map(|(binding, role)| RbacAuthorization {
            role: role.clone(),
            scope: binding_scope(binding),
        }),
        missing_role: if d.granted {
            None
        } else {
            d.missing_role.clone()
        },
    }
}

/// Kafka-style operation name for an action.
fn operation(action: &str) -> &str {
    match action {
        "read" => "Read",
        "write" => "Write",
        "create" => "Create",
        "alter" => "Alter",
        "drop" => "Delete",
        "describe" => "Describe",
        "list" => "List",
        "run" => "Run",
        other => other,
    }
}

fn crn_segments(crn: &str) -> Vec<(&str, &str)> {
    crn.strip_prefix(SOURCE)
        .unwrap_or(crn)
        .split('/')
        .filter_map(|s| s.split_once('='))
        .collect()
}

/// `(resourceType, resourceName)` of the innermost CRN segment.
fn crn_resource(crn: &str) -> (String, String) {
    let segments = crn_segments(crn);
    let Some((kind, name)) = segments.last() else {
        return ("Unknown".into(), crn.into());
    };
    let kind = match *kind {
        "topic" => "Topic",
        "kafka" | "cloud-cluster" => "Cluster",
        "environment" => "Environment",
        "organization" => "Organization",
        "statement" => "Statement",
        other => other,
    };
    (kind.into(), (*name).into())
}

/// `scope` of a binding pattern: org and environment segments, plus the cluster if any.
fn binding_scope(pattern: &str) -> RbacScope {
    let mut scope = RbacScope {
        outer_scope: Vec::new(),
        clusters: BTreeMap::new(),
    };
    for (kind, value) in crn_segments(pattern) {
        match kind {
            "organization" | "environment" => scope.outer_scope.push(format!("{kind}={value}")),
            "kafka" => {
                scope
                    .clusters
                    .insert("kafka-cluster".into(), value.trim_end_matches('*').into());
            }
            _ => {}
        }
    }
    scope
}
