//! The words the simulator builds its world from: market names, handles,
//! products and their typical prices, countries and their shares of vendors,
//! review texts and forum posts.
//!
//! Prices and shares are rough figures of the kind published studies report
//! (Soska & Christin 2015; the Global Drug Survey); they make the world look
//! plausible, they are not data.

/// Market names, one per market in turn.
pub const MARKETS: &[&str] = &[
    "Nightshade",
    "Cobalt",
    "Tessera",
    "Lanterna",
    "Oberon",
    "Quarry",
    "Halcyon",
    "Vesper",
];

/// Markets outside the simulation that profiles may cite imported ratings from.
pub const OUTSIDE_MARKETS: &[&str] = &["Abraxia", "Olympus", "Bazaar", "Tochka"];

pub const HANDLE_FIRST: &[&str] = &[
    "green", "dr", "king", "silent", "happy", "royal", "north", "euro", "pure", "crystal",
    "mister", "dutch", "alpine", "golden", "blue", "candy", "wizard", "old", "lucky", "urban",
    "stealth", "smooth", "atlas", "nova", "frosty", "magic", "cosmic", "rapid", "honest", "sunny",
];

pub const HANDLE_SECOND: &[&str] = &[
    "leaf", "chem", "kong", "ship", "pharma", "dragon", "bear", "tiger", "labs", "garden",
    "express", "bros", "supply", "farmer", "owl", "shop", "store", "dealer", "man", "depot",
    "connect", "plug", "trader", "fox", "wolf", "co", "house", "market", "world", "direct",
];

/// (ISO code, English name as markets print it, share of vendors in per mille).
pub const ORIGINS: &[(&str, &str, u32)] = &[
    ("US", "United States", 300),
    ("GB", "United Kingdom", 120),
    ("DE", "Germany", 100),
    ("NL", "Netherlands", 90),
    ("AU", "Australia", 60),
    ("CA", "Canada", 50),
    ("FR", "France", 40),
    ("ES", "Spain", 35),
    ("IN", "India", 30),
    ("PL", "Poland", 25),
    ("IT", "Italy", 20),
    ("SE", "Sweden", 20),
    ("BE", "Belgium", 20),
    ("CN", "China", 20),
    ("CZ", "Czech Republic", 15),
    ("CH", "Switzerland", 10),
    ("AT", "Austria", 10),
    ("PT", "Portugal", 5),
];

/// A product type: (category, subcategory, substance, unit kind, USD per
/// reference unit, title patterns). `{q}` is replaced by the quantity text.
pub struct Product {
    pub category: &'static str,
    pub subcategory: &'static str,
    pub substance: &'static str,
    pub form: Form,
    /// USD for one gram, one pill or one tab.
    pub unit_usd: f64,
    pub titles: &'static [&'static str],
    /// Relative weight among products.
    pub weight: u32,
}

/// How a product is counted.
#[derive(Debug, Clone, Copy)]
pub enum Form {
    /// Sold by weight in grams.
    Weight,
    /// Pills or tabs of a dose (mg or ug each).
    Doses { dose: &'static [u32], micro: bool },
    /// Bottles of millilitres.
    Liquid,
    /// Pieces of a non-drug good.
    Pieces,
}

pub const PRODUCTS: &[Product] = &[
    Product {
        category: "Cannabis",
        subcategory: "Weed",
        substance: "cannabis",
        form: Form::Weight,
        unit_usd: 10.0,
        titles: &[
            "{q} Amnesia Haze AAA+",
            "{q} OG Kush top shelf",
            "{q} Girl Scout Cookies indoor",
            "{q} Lemon Haze organic",
        ],
        weight: 180,
    },
    Product {
        category: "Cannabis",
        subcategory: "Hash",
        substance: "hashish",
        form: Form::Weight,
        unit_usd: 9.0,
        titles: &[
            "{q} Moroccan hash",
            "{q} Afghan black hash",
            "{q} Dry sift hash",
        ],
        weight: 60,
    },
    Product {
        category: "Stimulants",
        subcategory: "Cocaine",
        substance: "cocaine",
        form: Form::Weight,
        unit_usd: 85.0,
        titles: &[
            "{q} Colombian cocaine 90% pure",
            "{q} Peruvian flake cocaine",
            "{q} Fishscale cocaine uncut",
        ],
        weight: 110,
    },
    Product {
        category: "Stimulants",
        subcategory: "Speed",
        substance: "amphetamine",
        form: Form::Weight,
        unit_usd: 12.0,
        titles: &["{q} Amphetamine paste 70%", "{q} Speed powder high purity"],
        weight: 60,
    },
    Product {
        category: "Stimulants",
        subcategory: "Meth",
        substance: "methamphetamine",
        form: Form::Weight,
        unit_usd: 40.0,
        titles: &["{q} Crystal meth shards", "{q} Ice glass shards"],
        weight: 40,
    },
    Product {
        category: "Ecstasy",
        subcategory: "MDMA",
        substance: "mdma",
        form: Form::Weight,
        unit_usd: 35.0,
        titles: &["{q} MDMA crystal 84%", "{q} Champagne MDMA rocks"],
        weight: 70,
    },
    Product {
        category: "Ecstasy",
        subcategory: "Pills",
        substance: "mdma",
        form: Form::Doses {
            dose: &[120, 150, 180, 200],
            micro: false,
        },
        unit_usd: 6.0,
        titles: &[
            "{q} Blue Punisher XTC pills",
            "{q} Tesla ecstasy pills",
            "{q} Red Bull XTC",
        ],
        weight: 70,
    },
    Product {
        category: "Opioids",
        subcategory: "Heroin",
        substance: "heroin",
        form: Form::Weight,
        unit_usd: 90.0,
        titles: &["{q} Afghan heroin #4", "{q} Brown heroin"],
        weight: 30,
    },
    Product {
        category: "Opioids",
        subcategory: "Oxycodone",
        substance: "oxycodone",
        form: Form::Doses {
            dose: &[10, 20, 30, 80],
            micro: false,
        },
        unit_usd: 18.0,
        titles: &["{q} Oxycodone pharma", "{q} OxyContin tablets"],
        weight: 40,
    },
    Product {
        category: "Psychedelics",
        subcategory: "LSD",
        substance: "lsd",
        form: Form::Doses {
            dose: &[100, 150, 200, 250],
            micro: true,
        },
        unit_usd: 7.0,
        titles: &[
            "{q} LSD blotters Hofmann print",
            "{q} LSD tabs needlepoint tested",
        ],
        weight: 60,
    },
    Product {
        category: "Psychedelics",
        subcategory: "Mushrooms",
        substance: "psilocybin",
        form: Form::Weight,
        unit_usd: 8.0,
        titles: &["{q} Golden Teacher mushrooms", "{q} Psilocybe cubensis B+"],
        weight: 40,
    },
    Product {
        category: "Psychedelics",
        subcategory: "DMT",
        substance: "dmt",
        form: Form::Weight,
        unit_usd: 70.0,
        titles: &["{q} DMT crystal freebase"],
        weight: 15,
    },
    Product {
        category: "Benzodiazepines",
        subcategory: "Alprazolam",
        substance: "alprazolam",
        form: Form::Doses {
            dose: &[1, 2],
            micro: false,
        },
        unit_usd: 2.5,
        titles: &["{q} Xanax bars Pfizer", "{q} Alprazolam tablets"],
        weight: 50,
    },
    Product {
        category: "Benzodiazepines",
        subcategory: "Diazepam",
        substance: "diazepam",
        form: Form::Doses {
            dose: &[5, 10],
            micro: false,
        },
        unit_usd: 1.0,
        titles: &["{q} Diazepam Valium Roche", "{q} Diazepam blister packs"],
        weight: 30,
    },
    Product {
        category: "Prescription",
        subcategory: "Modafinil",
        substance: "modafinil",
        form: Form::Doses {
            dose: &[100, 200],
            micro: false,
        },
        unit_usd: 1.2,
        titles: &["{q} Modafinil Modalert", "{q} Modafinil generic"],
        weight: 25,
    },
    Product {
        category: "Prescription",
        subcategory: "Tramadol",
        substance: "tramadol",
        form: Form::Doses {
            dose: &[50, 100],
            micro: false,
        },
        unit_usd: 1.5,
        titles: &["{q} Tramadol tablets"],
        weight: 20,
    },
    Product {
        category: "Prescription",
        subcategory: "Steroids",
        substance: "testosterone",
        form: Form::Liquid,
        unit_usd: 6.0,
        titles: &["{q} Testosterone enanthate 250mg/ml"],
        weight: 15,
    },
    Product {
        category: "Other",
        subcategory: "Guides",
        substance: "none",
        form: Form::Pieces,
        unit_usd: 15.0,
        titles: &["{q} Stealth shipping guide", "{q} OPSEC tutorial ebook"],
        weight: 15,
    },
    Product {
        category: "Other",
        subcategory: "Digital goods",
        substance: "none",
        form: Form::Pieces,
        unit_usd: 20.0,
        titles: &["{q} VPN lifetime account", "{q} Streaming accounts bundle"],
        weight: 15,
    },
];

/// Weights sold per listing, in grams.
pub const WEIGHTS: &[(&str, f64)] = &[
    ("0.5", 0.5),
    ("1", 1.0),
    ("2", 2.0),
    ("3.5", 3.5),
    ("5", 5.0),
    ("7", 7.0),
    ("10", 10.0),
    ("14", 14.0),
    ("28", 28.0),
    ("50", 50.0),
    ("100", 100.0),
];

pub const PILL_COUNTS: &[u32] = &[5, 10, 20, 25, 50, 100, 200, 500];

pub const SHIPPING: &[(&str, u32)] = &[
    ("Standard post", 0),
    ("Tracked post", 10),
    ("Express", 25),
    ("Stealth vacuum sealed", 5),
];

pub const POSITIVE_REVIEWS: &[&str] = &[
    "Great stealth, arrived in 3 days. Quality as described.",
    "Top vendor, fast shipping and good communication.",
    "Product is excellent, will order again.",
    "Arrived safely, well packed. Thanks!",
    "Good quality for the price, recommended.",
    "Second order, consistent as always.",
    "Took a week but everything was fine.",
    "Tested with reagents, matches the description.",
    "Perfect transaction, 10/10.",
    "Weight was spot on, stealth was professional.",
];

pub const NEUTRAL_REVIEWS: &[&str] = &[
    "Took longer than expected but arrived.",
    "Quality is ok, not the best I had.",
    "Slightly under weight, vendor refunded the difference.",
];

pub const NEGATIVE_REVIEWS: &[&str] = &[
    "Never arrived. Vendor stopped answering.",
    "Bad quality, heavily cut.",
    "Package seized, no reship offered.",
    "Wrong product sent.",
];

/// Short texts of fake five-star reviews.
pub const FAKE_REVIEWS: &[&str] = &[
    "great",
    "A+++",
    "fast shipping",
    "best vendor",
    "good",
    "awesome",
    "5 stars",
    "legit",
    "very good",
    "top",
];

/// A forum thread template: board, topics, title pattern and post patterns.
/// `{s}` is a substance, `{v}` a vendor handle.
pub struct ThreadTemplate {
    pub board: &'static str,
    pub topics: &'static [crate::world::Topic],
    pub title: &'static str,
    pub posts: &'static [&'static str],
}

use crate::world::Topic;

pub const THREADS: &[ThreadTemplate] = &[
    ThreadTemplate { board: "Harm Reduction", topics: &[Topic::Dosing], title: "Dosing guide for {s}: start low, go slow", posts: &["What is a sensible first dose of {s}? Start with half of what you think and wait two hours before redosing.", "Weigh your doses with a milligram scale, eyeballing {s} is how people get hurt.", "Never mix {s} with alcohol or benzos, the combination is where most bad nights come from.", "Wait at least two hours before redosing, onset can be slow."] },
    ThreadTemplate { board: "Harm Reduction", topics: &[Topic::ReagentTesting], title: "Reagent test results: {s} from {v}", posts: &["Marquis reagent turned purple to black within seconds, consistent with {s}.", "Did a Mecke and Simon's test too, results look right for {s}.", "Always test with at least two reagents, one colour proves little.", "Sent a sample to a drug checking lab, purity came back high."] },
    ThreadTemplate { board: "Harm Reduction", topics: &[Topic::Adulterants], title: "Fentanyl found in {s}? Test strips results", posts: &["Fentanyl test strip came back positive on a batch of {s}. Be careful everyone.", "Levamisole is common in cocaine, a reagent kit can show it.", "Use fentanyl test strips on every batch, they are cheap.", "The adulterant was confirmed by a lab, avoid this batch."] },
    ThreadTemplate { board: "Harm Reduction", topics: &[Topic::OverdoseNaloxone], title: "Overdose signs and carrying naloxone", posts: &["If someone is unresponsive with slow breathing after opioids, call emergency services and give naloxone.", "Naloxone (Narcan) nasal spray is available without prescription in many places, carry it.", "Put the person in the recovery position and stay with them, naloxone can wear off before the opioid does.", "Never use alone, tell someone or use a never-use-alone line."] },
    ThreadTemplate { board: "Scam Reports", topics: &[Topic::ScamWarning], title: "SCAM WARNING: {v} not shipping", posts: &["Ordered from {v} two weeks ago, no tracking, no reply. Looks like an exit.", "Same here, finalize early was required and then nothing.", "Never finalize early with a new vendor.", "Moderators are looking into this."] },
    ThreadTemplate { board: "Scam Reports", topics: &[Topic::ScamWarning], title: "Phishing links going around, check the mirror list", posts: &["Several fake mirrors copy this market's login page. Only use the signed mirror list.", "Verify the PGP signature of the mirror list before logging in.", "Lost my coins to a phishing clone, be careful."] },
    ThreadTemplate { board: "Vendor Reviews", topics: &[Topic::Vendors], title: "Review: {v} {s}", posts: &["Ordered {s} from {v}, stealth was good and it arrived in four days.", "Agree, {v} is reliable.", "Had a delay with {v} but they reshipped."] },
    ThreadTemplate { board: "Drug Discussion", topics: &[Topic::General], title: "Price of {s} going up?", posts: &["Anyone noticed {s} prices rising this month?", "Supply seems lower since the last takedown.", "Prices follow the bitcoin rate too."] },
    ThreadTemplate { board: "General", topics: &[Topic::General], title: "Where did everyone go after the takedown?", posts: &["Most vendors I followed moved to other markets with the same PGP key.", "Always verify a vendor's PGP key after a move, impersonators are everywhere.", "Some vendors changed their names but kept their keys."] },
];
