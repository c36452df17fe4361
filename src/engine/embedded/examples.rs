//! The built-in, read-only `examples`.`marketplace` tables: deterministic generated rows shaped
//! like Confluent Cloud's sample data (orders, customers, products, clicks).
//!
//! Owns the generator only; the same seed gives the same rows on every start, so tests and
//! users can rely on them. Nothing here is persisted.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::Schema as ArrowSchema;

use crate::sql::types::{FlinkType, Kind, LTZ_ZONE, MAX_LENGTH};

/// Row counts of the generated tables.
pub(crate) const ORDERS: usize = 1_000;
pub(crate) const CUSTOMERS: usize = 200;
pub(crate) const PRODUCTS: usize = 100;
pub(crate) const CLICKS: usize = 1_000;

/// First customer id; customers are `FIRST_CUSTOMER .. FIRST_CUSTOMER + CUSTOMERS`.
const FIRST_CUSTOMER: i32 = 3_000;
/// First product id (as text); products are `1000 .. 1100`.
const FIRST_PRODUCT: usize = 1_000;
/// `$rowtime` of the first row of every table: 2025-01-01T00:00:00Z.
const EPOCH_MS: i64 = 1_735_689_600_000;

/// splitmix64: tiny, good enough, and no `rand` dependency for data that must never change.
struct Gen(u64);

impl Gen {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next().to_le_bytes());
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// Strictly increasing event times, 0.5–1.5 s apart.
    fn rowtimes(&mut self, n: usize) -> Vec<i64> {
        let mut t = EPOCH_MS;
        (0..n)
            .map(|_| {
                t += 500 + self.below(1_000) as i64;
                t
            })
            .collect()
    }
}

const FIRST_NAMES: &[&str] = &[
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "Edsger",
    "Radia",
    "Donald",
    "Hedy",
    "Tim",
    "Katherine",
    "John",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Knuth",
    "Lamarr",
    "Berners-Lee",
    "Johnson",
    "Backus",
];
const STREETS: &[&str] = &[
    "Main St",
    "Oak Ave",
    "Pine Rd",
    "Maple Ln",
    "Cedar Blvd",
    "Elm St",
];
const CITIES: &[&str] = &[
    "Springfield",
    "Riverside",
    "Fairview",
    "Madison",
    "Georgetown",
    "Salem",
    "Franklin",
    "Clinton",
];
const ADJECTIVES: &[&str] = &[
    "Ergonomic",
    "Rustic",
    "Sleek",
    "Small",
    "Durable",
    "Gorgeous",
    "Practical",
];
const NOUNS: &[&str] = &[
    "Chair", "Keyboard", "Lamp", "Shoes", "Table", "Watch", "Backpack", "Gloves",
];
const BRANDS: &[&str] = &["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Soylent"];
const VENDORS: &[&str] = &["Amazon", "Walmart", "Target", "eBay", "Etsy"];
const DEPARTMENTS: &[&str] = &["books", "electronics", "garden", "home", "sports", "toys"];
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
];

/// One generated table: its name and its rows (one batch; the schema carries Flink types).
pub(crate) struct ExampleTable {
    pub(crate) name: &'static str,
    pub(crate) batch: RecordBatch,
}

fn string_t() -> FlinkType {
    FlinkType::new(Kind::Varchar(MAX_LENGTH), false)
}

fn int_t() -> FlinkType {
    FlinkType::new(Kind::Integer, false)
}

fn rowtime_t() -> FlinkType {
    FlinkType::new(Kind::TimestampLtz(3), false)
}

fn strings(v: Vec<String>) -> ArrayRef {
    Arc::new(StringArray::from(v))
}

fn rowtime(v: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from(v).with_timezone(LTZ_ZONE))
}

fn batch(columns: Vec<(&str, FlinkType, ArrayRef)>) -> RecordBatch {
    let fields = columns
        .iter()
        .map(|(n, t, _)| t.to_field(n).expect("example types map to Arrow"))
        .collect::<Vec<_>>();
    let arrays = columns.into_iter().map(|(_, _, a)| a).collect();
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), arrays)
        .expect("generated columns match their schema")
}

/// Generates all four tables. Pure: the same output on every call.
pub(crate) fn generate() -> Vec<ExampleTable> {
    vec![
        ExampleTable {
            name: "orders",
            batch: orders(),
        },
        ExampleTable {
            name: "customers",
            batch: customers(),
        },
        ExampleTable {
            name: "products",
            batch: products(),
        },
        ExampleTable {
            name: "clicks",
            batch: clicks(),
        },
    ]
}

fn customers() -> RecordBatch {
    let mut g = Gen::new(0xC057);
    let (mut id, mut name, mut address, mut postcode, mut city, mut email) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for i in 0..CUSTOMERS {
        let (first, last) = (g.pick(FIRST_NAMES), g.pick(LAST_NAMES));
        id.push(FIRST_CUSTOMER + i as i32);
        name.push(format!("{first} {last}"));
        address.push(format!("{} {}", 1 + g.below(9_999), g.pick(STREETS)));
        postcode.push(format!("{:05}", 10_000 + g.below(89_999)));
        city.push(g.pick(CITIES).to_string());
        email.push(format!(
            "{}.{}{}@example.com",
            first.to_lowercase(),
            last.to_lowercase(),
            i
        ));
    }
    let times = g.rowtimes(CUSTOMERS);
    batch(vec![
        ("customer_id", int_t(), Arc::new(Int32Array::from(id))),
        ("name", string_t(), strings(name)),
        ("address", string_t(), strings(address)),
        ("postcode", string_t(), strings(postcode)),
        ("city", string_t(), strings(city)),
        ("email", string_t(), strings(email)),
        ("$rowtime", rowtime_t(), rowtime(times)),
    ])
}

fn products() -> RecordBatch {
    let mut g = Gen::new(0x960D);
    let (mut id, mut name, mut brand, mut vendor, mut dept) =
        (vec![], vec![], vec![], vec![], vec![]);
    for i in 0..PRODUCTS {
        id.push((FIRST_PRODUCT + i).to_string());
        name.push(format!("{} {}", g.pick(ADJECTIVES), g.pick(NOUNS)));
        brand.push(g.pick(BRANDS).to_string());
        vendor.push(g.pick(VENDORS).to_string());
        dept.push(g.pick(DEPARTMENTS).to_string());
    }
    let times = g.rowtimes(PRODUCTS);
    batch(vec![
        ("product_id", string_t(), strings(id)),
        ("name", string_t(), strings(name)),
        ("brand", string_t(), strings(brand)),
        ("vendor", string_t(), strings(vendor)),
        ("department", string_t(), strings(dept)),
        ("$rowtime", rowtime_t(), rowtime(times)),
    ])
}

fn orders() -> RecordBatch {
    let mut g = Gen::new(0x0DE5);
    let (mut id, mut customer, mut product, mut price) = (vec![], vec![], vec![], vec![]);
    for _ in 0..ORDERS {
        id.push(g.uuid());
        customer.push(FIRST_CUSTOMER + g.below(CUSTOMERS) as i32);
        product.push((FIRST_PRODUCT + g.below(PRODUCTS)).to_string());
        price.push((1_000 + g.below(99_000)) as f64 / 100.0);
    }
    let times = g.rowtimes(ORDERS);
    batch(vec![
        ("order_id", string_t(), strings(id)),
        ("customer_id", int_t(), Arc::new(Int32Array::from(customer))),
        ("product_id", string_t(), strings(product)),
        (
            "price",
            FlinkType::new(Kind::Double, false),
            Arc::new(Float64Array::from(price)),
        ),
        ("$rowtime", rowtime_t(), rowtime(times)),
    ])
}

fn clicks() -> RecordBatch {
    let mut g = Gen::new(0xC11C);
    let (mut id, mut user, mut url, mut agent, mut view) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..CLICKS {
        id.push(g.uuid());
        user.push(FIRST_CUSTOMER + g.below(CUSTOMERS) as i32);
        url.push(format!(
            "https://www.acme.com/product/{}",
            FIRST_PRODUCT + g.below(PRODUCTS)
        ));
        agent.push(g.pick(USER_AGENTS).to_string());
        view.push(10 + g.below(111) as i32);
    }
    let times = g.rowtimes(CLICKS);
    batch(vec![
        ("click_id", string_t(), strings(id)),
        ("user_id", int_t(), Arc::new(Int32Array::from(user))),
        ("url", string_t(), strings(url)),
        ("user_agent", string_t(), strings(agent)),
        ("view_time", int_t(), Arc::new(Int32Array::from(view))),
        ("$rowtime", rowtime_t(), rowtime(times)),
    ])
}
