//! One builder per file of the Maven CRM export: products, accounts (and their parent
//! links), the sales team (people and their regions), and the pipeline (deals).

use super::*;

pub(super) fn products(rows: Vec<RawRow>, report: &mut FileReport) -> Vec<Row> {
    let kind = RecordKind::Product;
    let mut out = Vec::new();
    for (line, raw) in rows {
        let (mut fields, mut caveats) = (Fields::new(), Vec::new());
        let key = raw["product"].clone();
        if !set(kind, &mut fields, "name", &key, &mut caveats) {
            skip(report, line, key, caveats.join("; "));
            continue;
        }
        set(kind, &mut fields, "series", &raw["series"], &mut caveats);
        set(
            kind,
            &mut fields,
            "price",
            &raw["sales_price"],
            &mut caveats,
        );
        out.push(Row {
            line,
            key,
            fields,
            caveats,
        });
    }
    out
}

pub(super) fn accounts(rows: &[RawRow], report: &mut FileReport) -> Vec<Row> {
    let kind = RecordKind::Customer;
    let mut out = Vec::new();
    for (line, raw) in rows {
        let (mut fields, mut caveats) = (Fields::new(), Vec::new());
        let key = raw["account"].clone();
        if !set(kind, &mut fields, "name", &key, &mut caveats) {
            skip(report, *line, key, caveats.join("; "));
            continue;
        }
        let sector = &raw["sector"];
        set(kind, &mut fields, "sector", sector, &mut caveats);
        if let Some(known) = misspelt_sector(sector) {
            caveats.push(format!(
                "sector \"{sector}\" looks like a misspelling of \"{known}\"; kept as written"
            ));
        }
        set(
            kind,
            &mut fields,
            "year_established",
            &raw["year_established"],
            &mut caveats,
        );
        set(kind, &mut fields, "revenue", &raw["revenue"], &mut caveats);
        set(
            kind,
            &mut fields,
            "employees",
            &raw["employees"],
            &mut caveats,
        );
        set(
            kind,
            &mut fields,
            "office_location",
            &raw["office_location"],
            &mut caveats,
        );
        out.push(Row {
            line: *line,
            key,
            fields,
            caveats,
        });
    }
    out
}

/// The second pass over accounts: links each subsidiary to its parent account (which
/// may come later in the file than its subsidiary).
pub(super) fn account_parents(
    rows: &[RawRow],
    kept: &HashSet<u64>,
    customers: &HashMap<String, i64>,
) -> Vec<Row> {
    let mut out = Vec::new();
    for (line, raw) in rows {
        let key = raw["account"].clone();
        if !kept.contains(line) || !customers.contains_key(&key) {
            continue; // skipped in the first pass, already reported
        }
        let parent_name = raw["subsidiary_of"].trim();
        let mut caveats = Vec::new();
        let parent = if parent_name.is_empty() {
            None
        } else if parent_name == key {
            caveats.push("an account cannot be its own parent; left empty".to_string());
            None
        } else {
            resolve(customers, "parent account", parent_name, &mut caveats)
        };
        let mut fields = Fields::new();
        fields.insert("name".into(), Value::Text(key.clone()));
        fields.insert(
            "parent_id".into(),
            parent.map(Value::Int).unwrap_or_default(),
        );
        out.push(Row {
            line: *line,
            key,
            fields,
            caveats,
        });
    }
    out
}

/// The sales team: managers become admins and agents members, each with their regional
/// office as region (a manager takes their team's). Returns the people imported.
pub(super) async fn sales_teams(
    store: &dyn Store,
    ws: &Workspace,
    actor: Option<i64>,
    rows: Vec<RawRow>,
    report: &mut FileReport,
) -> Result<Vec<ImportedPerson>, ImportError> {
    // Only the owner makes admins (as with invites): an admin's import makes managers
    // members. The command line (no actor) acts for the owner.
    let may_make_admins = match actor {
        None => true,
        Some(a) => store.role(ws.id, a).await? == Some(Role::Owner),
    };
    let region = |raw: &HashMap<String, String>| {
        Some(raw["regional_office"].trim().to_string()).filter(|r| !r.is_empty())
    };
    let mut managers: Vec<ImportedPerson> = Vec::new();
    let mut agents: Vec<ImportedPerson> = Vec::new();
    for (line, raw) in rows {
        let agent = raw["sales_agent"].trim().to_string();
        if agent.is_empty() {
            skip(report, line, String::new(), "no sales agent name".into());
            continue;
        }
        let manager = raw["manager"].trim().to_string();
        if manager.is_empty() {
            report.flagged += 1;
            report.problems.push(RowProblem {
                line,
                key: agent.clone(),
                reason: "no manager".into(),
                skipped: false,
            });
        } else if !managers.iter().any(|m| m.key == manager) {
            if !may_make_admins {
                report.flagged += 1;
                report.problems.push(RowProblem {
                    line,
                    key: manager.clone(),
                    reason: "manager imported as a member: only the owner's import makes admins"
                        .into(),
                    skipped: false,
                });
            }
            managers.push(ImportedPerson {
                key: manager.clone(),
                name: manager,
                role: if may_make_admins {
                    Role::Admin
                } else {
                    Role::Member
                },
                region: region(&raw),
            });
        }
        agents.push(ImportedPerson {
            key: agent.clone(),
            name: agent,
            role: Role::Member,
            region: region(&raw),
        });
    }
    let mut people = managers.clone();
    people.extend(
        agents
            .iter()
            .filter(|a| !managers.iter().any(|m| m.key == a.key))
            .cloned(),
    );
    let outcomes = store.upsert_people(ws.id, people.clone()).await?;
    let by_key: HashMap<&str, Upserted> = people
        .iter()
        .zip(&outcomes)
        .map(|(p, o)| (p.key.as_str(), o.outcome))
        .collect();
    for agent in &agents {
        count(
            report,
            by_key
                .get(agent.key.as_str())
                .copied()
                .unwrap_or(Upserted::Unchanged),
        );
    }
    Ok(people)
}

pub(super) fn deals(
    rows: Vec<RawRow>,
    customers: &HashMap<String, i64>,
    products: &HashMap<String, i64>,
    people: &HashMap<String, i64>,
    report: &mut FileReport,
) -> Vec<Row> {
    let kind = RecordKind::Deal;
    let mut out = Vec::with_capacity(rows.len());
    for (line, raw) in rows {
        let (mut fields, mut caveats) = (Fields::new(), Vec::new());
        let key = raw["opportunity_id"].clone();
        if key.trim().is_empty() {
            skip(report, line, key, "no opportunity_id".into());
            continue;
        }
        set(kind, &mut fields, "code", &key, &mut caveats);
        if fields.get("code").is_none_or(Value::is_null) {
            skip(report, line, key, caveats.join("; "));
            continue;
        }
        if !set(kind, &mut fields, "stage", &raw["deal_stage"], &mut caveats) {
            skip(report, line, key, caveats.join("; "));
            continue;
        }
        let mut link = |field: &str,
                        what: &str,
                        name: &str,
                        names: &HashMap<String, i64>,
                        caveats: &mut Vec<String>| {
            let id = if name.trim().is_empty() {
                caveats.push(format!("no {what}; imported without one"));
                None
            } else {
                resolve(names, what, name.trim(), caveats)
            };
            fields.insert(field.to_string(), id.map(Value::Int).unwrap_or_default());
        };
        link(
            "customer_id",
            "account",
            &raw["account"],
            customers,
            &mut caveats,
        );
        link(
            "product_id",
            "product",
            &raw["product"],
            products,
            &mut caveats,
        );
        link(
            "owner_id",
            "sales agent",
            &raw["sales_agent"],
            people,
            &mut caveats,
        );
        set(
            kind,
            &mut fields,
            "engage_date",
            &raw["engage_date"],
            &mut caveats,
        );
        set(
            kind,
            &mut fields,
            "close_date",
            &raw["close_date"],
            &mut caveats,
        );
        set(
            kind,
            &mut fields,
            "value",
            &raw["close_value"],
            &mut caveats,
        );
        let closed =
            matches!(fields.get("stage"), Some(Value::Text(s)) if s == "Won" || s == "Lost");
        if closed && fields.get("close_date").is_none_or(Value::is_null) {
            caveats.push("a closed deal without a close date".into());
        }
        out.push(Row {
            line,
            key,
            fields,
            caveats,
        });
    }
    out
}
