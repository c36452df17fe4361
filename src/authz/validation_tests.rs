//! Tests of whole-policy validation: what cut or mistyped files look like is refused, each
//! problem naming the right file and line.

use std::sync::Arc;

use std::time::Duration;

use super::*;
use crate::testing::{BINDINGS, MODEL, ROLES};

const ENV: &str = "crn://confluent.cloud/organization=org-dev/environment=env-dev";

fn catalogs() -> Arc<Catalogs> {
    Arc::new(crate::testing::catalogs())
}

/// The refusal of a policy, as one string.
async fn refusal(model: &str, roles: &str, bindings: &str) -> String {
    Authorizer::from_texts(model, roles, bindings, catalogs())
        .await
        .map(|_| ())
        .expect_err("the policy should be refused")
        .to_string()
}

async fn accepted(model: &str, roles: &str, bindings: &str) -> Authorizer {
    Authorizer::from_texts(model, roles, bindings, catalogs())
        .await
        .unwrap_or_else(|e| panic!("refused: {e}"))
}

fn line_count(text: &str) -> usize {
    text.lines().count()
}

#[tokio::test]
async fn an_empty_bindings_file_is_refused_unless_marked_as_meant() {
    let e = refusal(MODEL, ROLES, "").await;
    assert!(
        e.contains("bindings.csv: is empty (0 bytes): refused"),
        "{e}"
    );
    assert!(e.contains("`# sqlgate: empty`"), "{e}");
    let e = refusal(MODEL, ROLES, "# header\n\n   \n# more\n").await;
    assert!(
        e.contains("bindings.csv: holds no role bindings (4 lines of comments and blank lines)"),
        "{e}"
    );
    // Marked: accepted, and it grants nothing.
    for marked in [
        "# sqlgate: empty\n",
        "# all gone\n  #  sqlgate:   empty  \n",
        "#sqlgate: empty",
    ] {
        let a = accepted(MODEL, ROLES, marked).await;
        assert!(a.state().policy.records().is_empty(), "{marked:?}");
    }
    // The marker on a binding line's comment, or misspelt, does not count.
    for not_marked in [
        "# sqlgate: empty-ish\n",
        "# sqlgate empty\n",
        "# do not use sqlgate: empty\n",
    ] {
        let e = refusal(MODEL, ROLES, not_marked).await;
        assert!(e.contains("holds no role bindings"), "{not_marked:?}: {e}");
    }
    // A file with a binding needs no marker; one whose only line is broken reports that line.
    accepted(MODEL, ROLES, &format!("User:a, FlinkDeveloper, {ENV}\n")).await;
    let e = refusal(MODEL, ROLES, "User:a, FlinkDevel").await;
    assert!(
        e.contains("bindings.csv:1: expected `principal, role, crn_pattern`"),
        "{e}"
    );
    assert!(!e.contains("holds no role bindings"), "{e}");
}

#[tokio::test]
async fn a_cut_last_line_is_refused() {
    // What a reader sees of a half-written file: the last line cut in its pattern.
    let full = format!("{BINDINGS}User:a, FlinkDeveloper, {ENV}\n");
    let cut = &full[..full.len() - 20];
    let e = refusal(MODEL, ROLES, cut).await;
    assert!(
        e.contains(&format!("bindings.csv:{}:", line_count(cut))),
        "{e}"
    );
}

#[tokio::test]
async fn every_role_a_g_line_implies_must_be_defined() {
    let roles = format!("{ROLES}g, FlinkDeveloper, NoSuchRole\n");
    let e = refusal(MODEL, &roles, BINDINGS).await;
    assert_eq!(
        e,
        format!(
            "policy: roles.csv:{}: `FlinkDeveloper` implies `NoSuchRole`, which no `p` or `g` line of roles.csv defines",
            line_count(&roles)
        )
    );
    // Defined by a later `p` line, or as the first role of a `g` line: fine.
    let roles = format!(
        "{ROLES}g, TopicAuditor, Auditor\np, Auditor, topic, describe\ng, Auditor2, Operator\ng, Lead, Auditor2\n"
    );
    accepted(MODEL, &roles, BINDINGS).await;
}

#[tokio::test]
async fn roles_implying_each_other_in_a_circle_are_refused() {
    let roles = format!("{ROLES}g, A, B\ng, B, C\ng, C, A\n");
    let e = refusal(MODEL, &roles, BINDINGS).await;
    let n = line_count(&roles);
    assert!(
        e.contains(&format!(
            "roles.csv:{n}: roles imply each other in a circle: A -> B -> C -> A"
        )),
        "{e}"
    );
    let roles = format!("{ROLES}g, Self, Self\n");
    let e = refusal(MODEL, &roles, BINDINGS).await;
    assert!(e.contains("circle: Self -> Self"), "{e}");
}

#[tokio::test]
async fn p_lines_name_known_resource_types_and_actions() {
    let roles = format!("{ROLES}p, Typo, topc, read\np, Typo, topic, raed\n");
    let e = refusal(MODEL, &roles, BINDINGS).await;
    let n = line_count(&roles);
    assert!(
        e.contains(&format!(
            "roles.csv:{}: unknown resource type `topc`",
            n - 1
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!("roles.csv:{n}: unknown action `raed`")),
        "{e}"
    );
}

#[tokio::test]
async fn principals_in_bindings_must_be_well_formed() {
    for (bad, why) in [
        ("User:a b", "' ' is not allowed"),
        ("alice", "it must be `User:<id>`"),
        ("Group:admins", "groups are not principals here"),
        ("User:*", "`*` is not allowed"),
    ] {
        let bindings = format!("{BINDINGS}{bad}, FlinkDeveloper, {ENV}\n");
        let e = refusal(MODEL, ROLES, &bindings).await;
        assert!(
            e.contains(&format!(
                "bindings.csv:{}: principal `{bad}` is not well formed: {why}",
                line_count(&bindings)
            )),
            "{e}"
        );
    }
}

fn model_with(from: &str, to: &str) -> String {
    assert!(MODEL.contains(from), "{from}");
    MODEL.replace(from, to)
}

fn model_line(model: &str, prefix: &str) -> usize {
    model.lines().position(|l| l.starts_with(prefix)).unwrap() + 1
}

#[tokio::test]
async fn model_errors_name_model_conf_and_the_line() {
    // A matcher cut short: casbin's error used to be reported against roles.csv.
    let m = model_with("&& (p.act == \"*\" || r.act == p.act)", "&& (p.act ==");
    let e = refusal(&m, ROLES, BINDINGS).await;
    assert!(
        e.starts_with(&format!(
            "policy: model.conf:{}: the matcher does not compile",
            model_line(&m, "m =")
        )),
        "{e}"
    );
    assert!(!e.contains("roles.csv"), "{e}");

    let cases: Vec<(String, String)> = vec![
        (String::new(), "model.conf: is empty (0 bytes)".into()),
        (
            model_with("[matchers]", "[matcher]"),
            format!(
                "model.conf:{}: unknown section `[matcher]`",
                model_line(MODEL, "[matchers]")
            ),
        ),
        (
            model_with("r = role, rtype, act", "r = role, act"),
            format!(
                "model.conf:{}: `r` must have three fields",
                model_line(MODEL, "r =")
            ),
        ),
        (
            model_with("e = some", "x = some"),
            format!(
                "model.conf:{}: [policy_effect] holds `e = …`, not `x`",
                model_line(MODEL, "e =")
            ),
        ),
        (
            model_with("g = _, _", ""),
            "model.conf: no `g = …` in [role_definition], which the `g` lines of roles.csv (line"
                .into(),
        ),
        (
            format!("r = a, b, c\n{MODEL}"),
            "model.conf:1: `r` is outside any known section".into(),
        ),
        (
            model_with("m = g(r.role, p.role) &&", "m = r.role == p.role &&"),
            format!(
                "model.conf:{}: the model does not pass on implied roles: roles.csv:",
                model_line(MODEL, "m =")
            ),
        ),
        (
            MODEL
                .lines()
                .map(|l| if l.starts_with("m =") { "m = true" } else { l })
                .collect::<Vec<_>>()
                .join("\n"),
            format!(
                "model.conf:{}: the model grants `admin` on `environment` to a role that roles.csv gives nothing",
                model_line(MODEL, "m =")
            ),
        ),
    ];
    for (model, want) in cases {
        let e = refusal(&model, ROLES, BINDINGS).await;
        assert!(e.contains(&want), "{e}\nshould contain\n{want}");
        assert!(
            !e.contains("roles.csv:0") && !e.starts_with("policy: roles.csv"),
            "{e}"
        );
    }
}

#[tokio::test]
async fn every_problem_of_every_file_is_reported_at_once() {
    let roles = format!("{ROLES}g, FlinkDeveloper, Nope\n");
    let bindings = format!("{BINDINGS}User:a b, FlinkDeveloper, {ENV}\n");
    let problems = super::policy::Policy::check(
        &PolicyTexts {
            model: MODEL.to_string(),
            roles: roles.clone(),
            bindings: bindings.clone(),
            ..PolicyTexts::default()
        },
        "org-dev",
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with(&format!("roles.csv:{}:", line_count(&roles))));
    assert!(problems[1].starts_with(&format!("bindings.csv:{}:", line_count(&bindings))));
}

#[tokio::test]
async fn a_reload_refuses_files_that_keep_changing_and_retries_them_later() {
    use super::settle::tests::ScriptClock;

    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("model.conf"), MODEL).unwrap();
    std::fs::write(tmp.path().join("roles.csv"), ROLES).unwrap();
    std::fs::write(tmp.path().join("bindings.csv"), BINDINGS).unwrap();
    let a = Authorizer::load(tmp.path(), catalogs()).await.unwrap();
    let file = tmp.path().join("bindings.csv");
    let with = |i: u64| format!("{BINDINGS}User:sa-{i}, FlinkDeveloper, {ENV}\n");
    let mut clock = ScriptClock::default();
    for i in 0..30 {
        let (f, text) = (file.clone(), with(i));
        clock = clock.at(700 * i, move || std::fs::write(&f, text).unwrap());
    }
    let e = a.reload_on(&clock).await.unwrap_err().to_string();
    assert!(
        e.contains(
            "bindings.csv: still changing after 10s (policy.reload_settle is 2s); not applied"
        ),
        "{e}"
    );
    assert_eq!(a.version(), 1);
    assert_eq!(a.status().last_error.as_deref(), Some(e.as_str()));
    // Once it stops changing, the content is applied (it was not remembered as refused).
    clock.advance_to(Duration::from_secs(60));
    assert_eq!(
        a.reload_on(&clock).await.unwrap(),
        ReloadOutcome::Applied(2)
    );
    assert_eq!(a.state().policy.bindings("User:sa-29").len(), 1);
    assert_eq!(a.status().last_error, None);
}

#[tokio::test]
async fn a_reload_waits_for_a_file_written_in_place_with_a_pause() {
    use std::io::Write;

    use super::settle::tests::ScriptClock;

    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("model.conf"), MODEL).unwrap();
    std::fs::write(tmp.path().join("roles.csv"), ROLES).unwrap();
    let old =
        format!("{BINDINGS}User:sa-1, FlinkDeveloper, {ENV}\nUser:sa-2, FlinkDeveloper, {ENV}\n");
    std::fs::write(tmp.path().join("bindings.csv"), &old).unwrap();
    let a = Authorizer::load(tmp.path(), catalogs()).await.unwrap();
    // In place: truncate, the first half (a valid policy without sa-2), then the rest.
    let new = format!("{old}User:sa-3, FlinkDeveloper, {ENV}\n");
    let cut = new.find("User:sa-2").unwrap();
    let f = std::rc::Rc::new(std::fs::File::create(tmp.path().join("bindings.csv")).unwrap());
    (&*f).write_all(&new.as_bytes()[..cut]).unwrap();
    let rest = new.as_bytes()[cut..].to_vec();
    let clock = ScriptClock::default().at(1500, move || (&*f).write_all(&rest).unwrap());
    assert_eq!(
        a.reload_on(&clock).await.unwrap(),
        ReloadOutcome::Applied(2)
    );
    for p in ["User:sa-1", "User:sa-2", "User:sa-3"] {
        assert_eq!(a.state().policy.bindings(p).len(), 1, "{p}");
    }
}
