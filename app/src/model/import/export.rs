//! The files and columns of the CRM export the importer reads (Maven's names), with the
//! names other CRMs give them, for suggestions.

/// One file of the CRM export the importer reads, and the columns it takes from it.
#[derive(Debug)]
pub struct ExportFile {
    /// Its name in a Maven export (`accounts.csv`), also the name it is known by here.
    pub name: &'static str,
    /// Its key in a [`super::ImportMapping`] and in a mapping file (`accounts`).
    pub stem: &'static str,
    /// The columns read, in the export's order.
    pub columns: &'static [ExportColumn],
}

/// A column the importer reads: its Maven name, whether a file without it is refused, and
/// the names other exports give it (for suggestions).
#[derive(Debug)]
pub struct ExportColumn {
    /// The Maven export's name for it (`account`), the name rows are read by.
    pub name: &'static str,
    /// What it holds, for people.
    pub caption: &'static str,
    /// Whether a file whose header lacks it (after mapping) is refused.
    pub required: bool,
    /// Other exports' names for it, most likely first (compared ignoring case, spaces and
    /// punctuation).
    pub synonyms: &'static [&'static str],
    /// The file (stem) whose records it names, for a reference: a value that is one of
    /// that file's ids (its `id` column) is read as the name that id stands for.
    pub refers_to: Option<&'static str>,
}

const fn col(
    name: &'static str,
    caption: &'static str,
    required: bool,
    synonyms: &'static [&'static str],
) -> ExportColumn {
    ExportColumn {
        name,
        caption,
        required,
        synonyms,
        refers_to: None,
    }
}

/// An optional column that names a record of the file `stem`, by name or by id.
const fn reference(
    name: &'static str,
    caption: &'static str,
    synonyms: &'static [&'static str],
    stem: &'static str,
) -> ExportColumn {
    ExportColumn {
        name,
        caption,
        required: false,
        synonyms,
        refers_to: Some(stem),
    }
}

impl ExportFile {
    /// The column that names a row's record (the first required one): `account` in
    /// accounts, `opportunity_id` in the pipeline.
    pub fn key(&self) -> &'static ExportColumn {
        self.columns
            .iter()
            .find(|c| c.required)
            .expect("every export file has a required key column")
    }

    /// The importer's file called `name`, by file name or stem.
    pub fn named(name: &str) -> Option<&'static ExportFile> {
        EXPORT_FILES
            .iter()
            .find(|f| f.name == name || f.stem == name)
    }
}

/// The export's files in the order they are imported (later files refer to earlier ones
/// by name, or by the `id` column a mapping gives the earlier file).
pub const EXPORT_FILES: [ExportFile; 4] = [
    ExportFile {
        name: "products.csv",
        stem: "products",
        columns: &[
            col(
                "id",
                "Product id (when other files refer to products by id)",
                false,
                &["product_id", "productid", "sku"],
            ),
            col(
                "product",
                "Product name",
                true,
                &["product_name", "name", "title"],
            ),
            col(
                "series",
                "Series",
                false,
                &["product_series", "family", "line", "category"],
            ),
            col(
                "sales_price",
                "Price",
                false,
                &["price", "list_price", "unit_price"],
            ),
        ],
    },
    ExportFile {
        name: "accounts.csv",
        stem: "accounts",
        columns: &[
            col(
                "id",
                "Account id (when other files refer to accounts by id)",
                false,
                &["account_id", "company_id", "customer_id"],
            ),
            col(
                "account",
                "Account (company) name",
                true,
                &[
                    "account_name",
                    "company",
                    "company_name",
                    "customer",
                    "customer_name",
                    "name",
                ],
            ),
            col("sector", "Sector", false, &["industry", "vertical"]),
            col(
                "year_established",
                "Year established",
                false,
                &["founded", "year_founded", "established"],
            ),
            col(
                "revenue",
                "Revenue (USD millions)",
                false,
                &["annual_revenue", "revenue_musd"],
            ),
            col(
                "employees",
                "Employees",
                false,
                &["employee_count", "headcount", "number_of_employees"],
            ),
            col(
                "office_location",
                "Office location",
                false,
                &["location", "country", "hq", "headquarters", "city"],
            ),
            reference(
                "subsidiary_of",
                "Parent account (name or id)",
                &[
                    "parent",
                    "parent_account",
                    "parent_company",
                    "parent_id",
                    "parent_account_id",
                ],
                "accounts",
            ),
        ],
    },
    ExportFile {
        name: "sales_teams.csv",
        stem: "sales_teams",
        columns: &[
            col(
                "id",
                "Agent id (when the pipeline refers to agents by id)",
                false,
                &["agent_id", "sales_agent_id", "user_id", "owner_id"],
            ),
            col(
                "sales_agent",
                "Sales agent name",
                true,
                &[
                    "agent",
                    "agent_name",
                    "owner",
                    "owner_name",
                    "rep",
                    "sales_rep",
                    "name",
                ],
            ),
            col(
                "manager",
                "Manager",
                false,
                &["manager_name", "team_lead", "supervisor"],
            ),
            col(
                "regional_office",
                "Regional office",
                false,
                &["region", "office", "territory"],
            ),
        ],
    },
    ExportFile {
        name: "sales_pipeline.csv",
        stem: "sales_pipeline",
        columns: &[
            col(
                "opportunity_id",
                "Opportunity id",
                true,
                &["deal_id", "deal", "opportunity", "id", "code"],
            ),
            reference(
                "sales_agent",
                "Sales agent (name or id)",
                &[
                    "agent",
                    "agent_id",
                    "owner",
                    "owner_id",
                    "sales_agent_id",
                    "rep",
                ],
                "sales_teams",
            ),
            reference(
                "product",
                "Product (name or id)",
                &["product_id", "product_name", "sku"],
                "products",
            ),
            reference(
                "account",
                "Account (name or id)",
                &[
                    "account_id",
                    "account_name",
                    "company",
                    "company_id",
                    "customer",
                    "customer_id",
                ],
                "accounts",
            ),
            col(
                "deal_stage",
                "Stage",
                true,
                &["stage", "status", "opportunity_stage"],
            ),
            col(
                "engage_date",
                "Engage date",
                false,
                &["created", "created_date", "open_date", "start_date"],
            ),
            col(
                "close_date",
                "Close date",
                false,
                &["closed", "closed_date", "close"],
            ),
            col(
                "close_value",
                "Value (USD)",
                false,
                &["value", "amount", "deal_value"],
            ),
        ],
    },
];
