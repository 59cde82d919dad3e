//! `tandem seed`: fills a workspace with generated customers, products and deals shaped
//! like the Maven CRM data, at any size (`--customers 100000 --deals 1000000`), and
//! measures, server-side through the store, how long the queries behind each page take
//! at that size: what the data-at-scale goals are checked against. `--log-rows` also
//! fills the workspace's change log, to measure the activity feed at that size.

use std::time::Instant;

use app::model::activity::{ActivityFilter, FeedType};
use app::model::record::DEAL_STAGES;
use app::model::{Fields, RecordKind, RecordQuery, Role, SortDir, Value};
use app::realtime::protocol::{Change, Room};
use app::ssr::store::{ImportedPerson, Store};
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::SeedArgs;
use crate::db;

/// Sectors, offices and products as in the Maven export.
const SECTORS: &[&str] = &[
    "technolgy",
    "medical",
    "retail",
    "software",
    "marketing",
    "finance",
    "entertainment",
    "telecommunications",
    "services",
    "employment",
];
const OFFICES: &[&str] = &[
    "United States",
    "Kenya",
    "Philipines",
    "Japan",
    "Italy",
    "Norway",
    "Korea",
    "Jordan",
    "Brazil",
    "Germany",
    "Panama",
    "Belgium",
    "China",
    "Poland",
];
const PRODUCTS: &[(&str, &str, i64)] = &[
    ("GTX Basic", "GTX", 550),
    ("GTX Pro", "GTX", 4821),
    ("MG Special", "MG", 55),
    ("MG Advanced", "MG", 3393),
    ("GTX Plus Pro", "GTX", 5482),
    ("GTX Plus Basic", "GTX", 1096),
    ("GTK 500", "GTK", 26768),
];
/// Words customer names are made of (with a number, so every name is unique).
const NAME_WORDS: &[&str] = &[
    "Acme",
    "Betasoloin",
    "Cancity",
    "Codehow",
    "Dalttechnology",
    "Finhigh",
    "Genco",
    "Globex",
    "Golddex",
    "Hottechi",
    "Initech",
    "Isdom",
    "Kan-code",
    "Konex",
    "Labdrill",
    "Nam-zim",
    "Ontomedia",
    "Rangreen",
    "Rantouch",
    "Ron-tech",
    "Scotfind",
    "Sonron",
    "Stanredtax",
    "Sunnamplex",
    "Treequote",
    "Vehement",
    "Xx-holding",
    "Zathunicon",
];

/// Rows inserted per transaction (each in multi-row statements).
const BATCH: usize = 10_000;

/// Seeds the workspace as asked, then measures its pages' queries if asked, printing
/// what it did and the figures.
///
/// Errors: the database cannot be opened, the workspace is missing and cannot be made,
/// the store fails.
pub async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let db = db::connect(&args.db.database_url).await?;
    let store = db.store.as_ref();
    let ((ws, _), owner, _) = super::workspace(store, &args.workspace, Some(&args.owner)).await?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let people: Vec<ImportedPerson> = (1..=args.members.max(1))
        .map(|i| ImportedPerson {
            key: format!("Seed agent {i}"),
            name: format!("Seed agent {i}"),
            role: Role::Member,
            region: None,
        })
        .collect();
    let members: Vec<i64> = store
        .upsert_people(ws.id, people)
        .await?
        .into_iter()
        .map(|p| p.user_id)
        .collect();
    let started = Instant::now();
    let products = ensure_products(store, ws.id, owner).await?;
    let have = store.ids_by_key(ws.id, RecordKind::Customer).await?.len();
    let mut made = 0;
    while have + made < args.customers {
        let n = BATCH.min(args.customers - have - made);
        let rows: Vec<Fields> = (0..n)
            .map(|i| customer(&mut rng, have + made + i + 1, &members))
            .collect();
        made += store
            .insert_records(ws.id, owner, RecordKind::Customer, &rows)
            .await?;
        eprint!("\rcustomers: {}", have + made);
    }
    let customers: Vec<i64> = store
        .ids_by_key(ws.id, RecordKind::Customer)
        .await?
        .into_values()
        .collect();
    let have = store.ids_by_key(ws.id, RecordKind::Deal).await?.len();
    let mut made_deals = 0;
    while !customers.is_empty() && have + made_deals < args.deals {
        let n = BATCH.min(args.deals - have - made_deals);
        let rows: Vec<Fields> = (0..n)
            .map(|i| {
                deal(
                    &mut rng,
                    have + made_deals + i + 1,
                    &customers,
                    &products,
                    &members,
                )
            })
            .collect();
        made_deals += store
            .insert_records(ws.id, owner, RecordKind::Deal, &rows)
            .await?;
        eprint!("\rdeals: {}    ", have + made_deals);
    }
    eprintln!();
    println!(
        "workspace \"{}\": {} customers and {} deals added in {:.1} s ({} customers and {} deals in all)",
        ws.slug,
        made,
        made_deals,
        started.elapsed().as_secs_f64(),
        customers.len(),
        have + made_deals,
    );
    let room = Room::Workspace(ws.id);
    let logged = store.room_head(room).await?.offset as usize;
    let mut added = 0;
    while !customers.is_empty() && logged + added < args.log_rows {
        let n = BATCH.min(args.log_rows - logged - added);
        let at = app::model::now_ms() - (args.log_rows as i64) * 1_000;
        let rows: Vec<Change> = (0..n)
            .map(|i| {
                edit(
                    &mut rng,
                    ws.id,
                    at + ((logged + added + i) as i64) * 1_000,
                    &customers,
                    &members,
                )
            })
            .collect();
        db.sql.append_log_bulk(room, &rows).await?;
        added += n;
        eprint!("\ractivity log: {}    ", logged + added);
    }
    if added > 0 {
        eprintln!();
    }
    if args.measure {
        measure(store, ws.id, &customers, args.samples).await?;
        measure_activity(store, ws.id, &members, args.samples).await?;
    }
    Ok(())
}

/// A generated edit of a random customer by a random member at `at`: one of its sector,
/// office or status, from one value to another.
fn edit(rng: &mut StdRng, workspace: i64, at: i64, customers: &[i64], members: &[i64]) -> Change {
    let (field, from, to) = match rng.gen_range(0..3) {
        0 => ("sector", *pick(rng, SECTORS), *pick(rng, SECTORS)),
        1 => ("office_location", *pick(rng, OFFICES), *pick(rng, OFFICES)),
        _ => ("status", "prospect", "active"),
    };
    let id = *pick(rng, customers);
    Change::Updated {
        kind: RecordKind::Customer,
        id,
        workspace_id: workspace,
        version: 2,
        title: Some(format!("Customer {id}")),
        fields: Fields::from([(field.to_string(), Value::Text(to.into()))]),
        before: Fields::from([(field.to_string(), Value::Text(from.into()))]),
        titles: Default::default(),
        overwritten: Vec::new(),
        overwrote: Vec::new(),
        actor: Some(*pick(rng, members)),
        at,
    }
}

/// Times the activity feed's pages `samples` times through the store and prints p50 and
/// p99 in milliseconds: the workspace's first page and page 200, one member's, one type's
/// and a text search's (a record's feed reads its own room the way the workspace's does).
async fn measure_activity(
    store: &dyn Store,
    workspace: i64,
    members: &[i64],
    samples: usize,
) -> anyhow::Result<()> {
    let all = &ActivityFilter::default();
    let head = store.room_head(Room::Workspace(workspace)).await?;
    println!("activity log: {} rows in the workspace's room", head.offset);
    time("activity feed, first page", samples, || async {
        store
            .activity(workspace, FeedType::Global, all, None, 50)
            .await?;
        Ok(())
    })
    .await?;
    let mut before = None;
    for _ in 1..200 {
        before = store
            .activity(workspace, FeedType::Global, all, before, 50)
            .await?
            .next;
    }
    time("activity feed, page 200", samples, || async {
        store
            .activity(workspace, FeedType::Global, all, before, 50)
            .await?;
        Ok(())
    })
    .await?;
    let mut rng = StdRng::seed_from_u64(11);
    time("a member's activity", samples, || {
        let id = *pick(&mut rng, members);
        async move {
            store
                .activity(workspace, FeedType::User { id }, all, None, 50)
                .await?;
            Ok(())
        }
    })
    .await?;
    let updates = ActivityFilter {
        ops: vec![app::realtime::protocol::ChangeOp::Updated],
        ..Default::default()
    };
    time("activity filtered by type", samples, || async {
        store
            .activity(workspace, FeedType::Global, &updates, None, 50)
            .await?;
        Ok(())
    })
    .await?;
    let text = ActivityFilter {
        text: Some("norway".into()),
        ..Default::default()
    };
    time("activity searched by text", samples, || async {
        store
            .activity(workspace, FeedType::Global, &text, None, 50)
            .await?;
        Ok(())
    })
    .await?;
    Ok(())
}

/// The seeded products (the Maven catalogue), created once; returns their ids.
async fn ensure_products(
    store: &dyn Store,
    workspace: i64,
    owner: Option<i64>,
) -> anyhow::Result<Vec<i64>> {
    let have = store.ids_by_key(workspace, RecordKind::Product).await?;
    let missing: Vec<Fields> = PRODUCTS
        .iter()
        .filter(|(name, _, _)| {
            !have.contains_key(&name.to_lowercase()) && !have.contains_key(*name)
        })
        .map(|(name, series, price)| {
            Fields::from([
                ("name".into(), Value::Text((*name).into())),
                ("series".into(), Value::Text((*series).into())),
                ("price".into(), Value::Int(price * 100)),
            ])
        })
        .collect();
    if !missing.is_empty() {
        store
            .insert_records(workspace, owner, RecordKind::Product, &missing)
            .await?;
    }
    Ok(store
        .ids_by_key(workspace, RecordKind::Product)
        .await?
        .into_values()
        .collect())
}

fn pick<'a, T>(rng: &mut StdRng, from: &'a [T]) -> &'a T {
    &from[rng.gen_range(0..from.len())]
}

/// Customer number `n`: a unique name, and the Maven columns with plausible values.
fn customer(rng: &mut StdRng, n: usize, members: &[i64]) -> Fields {
    let name = format!("{} {}", pick(rng, NAME_WORDS), n);
    let status = ["prospect", "active", "inactive"][rng.gen_range(0..3)];
    Fields::from([
        ("name".into(), Value::Text(name)),
        ("sector".into(), Value::Text((*pick(rng, SECTORS)).into())),
        ("status".into(), Value::Text(status.into())),
        ("owner_id".into(), Value::Int(*pick(rng, members))),
        (
            "year_established".into(),
            Value::Int(rng.gen_range(1979..2018)),
        ),
        (
            "revenue".into(),
            Value::Float(f64::from(rng.gen_range(400..1_200_000)) / 100.0),
        ),
        ("employees".into(), Value::Int(rng.gen_range(9..20_000))),
        (
            "office_location".into(),
            Value::Text((*pick(rng, OFFICES)).into()),
        ),
    ])
}

/// Deal number `n`: a code like Maven's, a customer, a product, a stage, dates and a
/// value for won deals.
fn deal(
    rng: &mut StdRng,
    n: usize,
    customers: &[i64],
    products: &[i64],
    members: &[i64],
) -> Fields {
    let stage = *pick(rng, DEAL_STAGES);
    let day = |rng: &mut StdRng| {
        let (m, d) = (rng.gen_range(1..=12), rng.gen_range(1..=28));
        Value::Text(format!("2017-{m:02}-{d:02}"))
    };
    let mut f = Fields::from([
        ("code".into(), Value::Text(format!("S{n:09}"))),
        ("customer_id".into(), Value::Int(*pick(rng, customers))),
        ("product_id".into(), Value::Int(*pick(rng, products))),
        ("stage".into(), Value::Text(stage.into())),
        ("owner_id".into(), Value::Int(*pick(rng, members))),
    ]);
    if stage != "Prospecting" {
        f.insert("engage_date".into(), day(rng));
    }
    if stage == "Won" || stage == "Lost" {
        f.insert("close_date".into(), day(rng));
    }
    if stage == "Won" {
        f.insert("value".into(), Value::Int(rng.gen_range(40..30_000) * 100));
    }
    f
}

/// Times each page's queries `samples` times through the store and prints p50 and p99
/// in milliseconds.
async fn measure(
    store: &dyn Store,
    workspace: i64,
    customers: &[i64],
    samples: usize,
) -> anyhow::Result<()> {
    let query = |sort: Option<&str>, dir: SortDir| RecordQuery {
        sort: sort.map(Into::into),
        dir,
        ..Default::default()
    };
    let mut cases: Vec<(&str, RecordKind, RecordQuery)> = vec![
        (
            "customer list",
            RecordKind::Customer,
            query(None, SortDir::Asc),
        ),
        ("deal list", RecordKind::Deal, query(None, SortDir::Asc)),
        (
            "customer search",
            RecordKind::Customer,
            RecordQuery {
                search: Some("globex 12".into()),
                ..query(None, SortDir::Asc)
            },
        ),
        (
            "customer search, a common word",
            RecordKind::Customer,
            RecordQuery {
                search: Some("globex".into()),
                ..query(None, SortDir::Asc)
            },
        ),
        (
            "deal search",
            RecordKind::Deal,
            RecordQuery {
                search: Some("S0000123".into()),
                ..query(None, SortDir::Asc)
            },
        ),
        (
            "customers sorted by revenue",
            RecordKind::Customer,
            query(Some("revenue"), SortDir::Desc),
        ),
    ];
    let mut won = query(Some("updated_at"), SortDir::Desc);
    won.filters
        .insert("stage".into(), Value::Text("Won".into()));
    cases.push(("deals filtered by stage", RecordKind::Deal, won));
    println!(
        "{:<34} {:>9} {:>9}",
        "query (server-side, store)", "p50 ms", "p99 ms"
    );
    for (name, kind, q) in &cases {
        time(name, samples, || async move {
            store.list_records(workspace, *kind, q).await?;
            Ok(())
        })
        .await?;
    }
    // The customer list's filter options: its sectors and the members.
    time("customer list's filter options", samples, || async move {
        store
            .distinct_values(workspace, RecordKind::Customer, "sector")
            .await?;
        store.members(workspace).await?;
        Ok(())
    })
    .await?;
    // Page 200 of the deal list: reached by following each page's cursor, then timed.
    let mut q = query(None, SortDir::Asc);
    for _ in 1..200 {
        let page = store.list_records(workspace, RecordKind::Deal, &q).await?;
        q.after = page.next;
    }
    let q = &q;
    time("deal list, page 200", samples, || async move {
        store.list_records(workspace, RecordKind::Deal, q).await?;
        Ok(())
    })
    .await?;
    // The board: each column's newest cards (as the board page asks) and the totals.
    let board = RecordKind::Deal
        .spec()
        .board
        .as_ref()
        .expect("deals have a board");
    time("deal board (4 columns, totals)", samples, || async move {
        for stage in DEAL_STAGES {
            let q = RecordQuery::board_column(board, stage);
            store.list_records(workspace, RecordKind::Deal, &q).await?;
        }
        store.board_totals(workspace, RecordKind::Deal).await?;
        Ok(())
    })
    .await?;
    // A reference picker's typeahead.
    time("customer picker typeahead", samples, || async move {
        store
            .choices(workspace, RecordKind::Customer, "globex", 20)
            .await?;
        Ok(())
    })
    .await?;
    // A customer's page: the record, its deals, and the form's member picker.
    let related = &RecordKind::Customer.spec().related[0];
    let mut rng = StdRng::seed_from_u64(7);
    time("customer page", samples, || {
        let id = *pick(&mut rng, customers);
        async move {
            store.record(workspace, RecordKind::Customer, id).await?;
            let q = RecordQuery::related(RecordKind::Customer, related, id);
            store.list_records(workspace, related.kind, &q).await?;
            store.members(workspace).await?;
            Ok(())
        }
    })
    .await?;
    Ok(())
}

/// Runs `run` once untimed (it fills the connection's page cache: a fresh SQLite
/// connection's first list reads its index pages, up to 75 ms, once), then `samples`
/// times, printing p50 and p99 in milliseconds under `name`.
async fn time<F, Fut>(name: &str, samples: usize, mut run: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    run().await?;
    let mut h = histogram();
    for _ in 0..samples {
        let t = Instant::now();
        run().await?;
        h.record(t.elapsed().as_micros() as u64).ok();
    }
    print_row(name, &h);
    Ok(())
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds")
}

fn print_row(name: &str, h: &Histogram<u64>) {
    println!(
        "{:<34} {:>9.1} {:>9.1}",
        name,
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each generated value is one its field accepts as it is (what a form or an import
    /// would store), and the names are unique.
    fn assert_valid(kind: RecordKind, fields: &Fields) {
        for (name, value) in fields {
            let def = kind
                .field(name)
                .unwrap_or_else(|| panic!("no field {name}"));
            assert_eq!(def.normalize(value.clone()).as_ref(), Ok(value), "{name}");
        }
    }

    #[test]
    fn generated_rows_are_valid_records() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut names = std::collections::HashSet::new();
        for n in 1..500 {
            let c = customer(&mut rng, n, &[1, 2]);
            assert_valid(RecordKind::Customer, &c);
            let name = c["name"].as_text().map(String::from);
            assert!(names.insert(name), "a unique name");
            let d = deal(&mut rng, n, &[10, 11], &[20], &[1, 2]);
            assert_valid(RecordKind::Deal, &d);
            assert_eq!(
                d.contains_key("value"),
                d["stage"] == Value::Text("Won".into())
            );
        }
    }
}
