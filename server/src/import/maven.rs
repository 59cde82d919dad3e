//! One builder per file of the Maven CRM export: products, accounts (and their parent
//! links), the sales team (people and their regions), and the pipeline (deals).

use super::*;

/// Products: name (the key), series and price.
pub(super) fn products(rows: Vec<RawRow>, report: &mut FileReport) -> Vec<Row> {
    let mut out = Vec::new();
    for (line, raw) in rows {
        let mut row = RowBuilder::new(RecordKind::Product, &raw);
        row.require("name", "product")
            .set("series", "series")
            .set("price", "sales_price");
        keep(
            row.finish(line, raw["product"].clone()),
            line,
            &mut out,
            report,
        );
    }
    out
}

/// Accounts as customers (parents are linked in a second pass): a sector that looks
/// misspelt is kept as written, with a caveat.
pub(super) fn accounts(rows: &[RawRow], report: &mut FileReport) -> Vec<Row> {
    let mut out = Vec::new();
    for (line, raw) in rows {
        let mut row = RowBuilder::new(RecordKind::Customer, raw);
        row.require("name", "account")
            .set("sector", "sector")
            .set("year_established", "year_established")
            .set("revenue", "revenue")
            .set("employees", "employees")
            .set("office_location", "office_location");
        let sector = row.text("sector");
        if let Some(known) = misspelt_sector(sector) {
            row.caveat(format!(
                "sector \"{sector}\" looks like a misspelling of \"{known}\"; kept as written"
            ));
        }
        keep(
            row.finish(*line, raw["account"].clone()),
            *line,
            &mut out,
            report,
        );
    }
    out
}

/// Keeps a built row, or reports why it was skipped.
fn keep(
    built: Result<Row, (String, String)>,
    line: u64,
    out: &mut Vec<Row>,
    report: &mut FileReport,
) {
    match built {
        Ok(row) => out.push(row),
        Err((key, why)) => skip(report, line, key, why),
    }
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

/// The pipeline as deals: the opportunity id (the key) and stage are needed; the
/// account, product and agent are resolved by name (loosely, with a caveat), and a
/// closed deal without a close date is flagged.
pub(super) fn deals(
    rows: Vec<RawRow>,
    customers: &HashMap<String, i64>,
    products: &HashMap<String, i64>,
    people: &HashMap<String, i64>,
    report: &mut FileReport,
) -> Vec<Row> {
    let mut out = Vec::with_capacity(rows.len());
    for (line, raw) in rows {
        let key = raw["opportunity_id"].clone();
        let mut row = RowBuilder::new(RecordKind::Deal, &raw);
        row.require("code", "opportunity_id")
            .require("stage", "deal_stage")
            .set("engage_date", "engage_date")
            .set("close_date", "close_date")
            .set("value", "close_value");
        for (field, what, column, names) in [
            ("customer_id", "account", "account", customers),
            ("product_id", "product", "product", products),
            ("owner_id", "sales agent", "sales_agent", people),
        ] {
            let name = row.text(column).trim();
            let id = if name.is_empty() {
                row.caveat(format!("no {what}; imported without one"));
                None
            } else {
                resolve(names, what, name, row.caveats())
            };
            row.value(field, id.map(Value::Int).unwrap_or_default());
        }
        let closed = matches!(row.get("stage"), Some(Value::Text(s)) if s == "Won" || s == "Lost");
        if closed && row.get("close_date").is_none_or(Value::is_null) {
            row.caveat("a closed deal without a close date".into());
        }
        keep(row.finish(line, key), line, &mut out, report);
    }
    out
}
