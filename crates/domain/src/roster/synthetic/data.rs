//! The word lists and cities synthetic rosters are made from. The cities are real, with the
//! range of their ZIP codes and their area code; the names are common US first and last names.

/// A real city with the range of its ZIP codes and its area code.
#[derive(Clone, Copy)]
pub(super) struct City(pub &'static str, pub &'static str, pub u32, pub u32, pub u16);

pub(super) const CITIES: &[City] = &[
    City("Seattle", "WA", 98101, 98199, 206),
    City("Tacoma", "WA", 98402, 98499, 253),
    City("Spokane", "WA", 99201, 99224, 509),
    City("Portland", "OR", 97201, 97299, 503),
    City("Boise", "ID", 83701, 83799, 208),
    City("San Francisco", "CA", 94102, 94188, 415),
    City("Los Angeles", "CA", 90001, 90089, 213),
    City("San Diego", "CA", 92101, 92199, 619),
    City("Sacramento", "CA", 95811, 95838, 916),
    City("Fresno", "CA", 93701, 93794, 559),
    City("Phoenix", "AZ", 85001, 85099, 602),
    City("Tucson", "AZ", 85701, 85775, 520),
    City("Las Vegas", "NV", 89101, 89199, 702),
    City("Salt Lake City", "UT", 84101, 84199, 801),
    City("Denver", "CO", 80201, 80299, 303),
    City("Albuquerque", "NM", 87101, 87199, 505),
    City("Dallas", "TX", 75201, 75398, 214),
    City("Houston", "TX", 77001, 77299, 713),
    City("Austin", "TX", 78701, 78799, 512),
    City("San Antonio", "TX", 78201, 78299, 210),
    City("El Paso", "TX", 79901, 79999, 915),
    City("Oklahoma City", "OK", 73101, 73199, 405),
    City("Kansas City", "MO", 64101, 64199, 816),
    City("St. Louis", "MO", 63101, 63199, 314),
    City("Omaha", "NE", 68101, 68199, 402),
    City("Minneapolis", "MN", 55401, 55488, 612),
    City("Chicago", "IL", 60601, 60661, 312),
    City("Milwaukee", "WI", 53201, 53295, 414),
    City("Detroit", "MI", 48201, 48288, 313),
    City("Indianapolis", "IN", 46201, 46290, 317),
    City("Columbus", "OH", 43201, 43299, 614),
    City("Cleveland", "OH", 44101, 44199, 216),
    City("Louisville", "KY", 40201, 40299, 502),
    City("Nashville", "TN", 37201, 37250, 615),
    City("Memphis", "TN", 38101, 38197, 901),
    City("Atlanta", "GA", 30301, 30399, 404),
    City("Birmingham", "AL", 35201, 35299, 205),
    City("New Orleans", "LA", 70112, 70195, 504),
    City("Jackson", "MS", 39201, 39298, 601),
    City("Little Rock", "AR", 72201, 72295, 501),
    City("Miami", "FL", 33101, 33199, 305),
    City("Tampa", "FL", 33601, 33694, 813),
    City("Orlando", "FL", 32801, 32899, 407),
    City("Charlotte", "NC", 28201, 28299, 704),
    City("Raleigh", "NC", 27601, 27699, 919),
    City("Richmond", "VA", 23218, 23298, 804),
    City("Washington", "DC", 20001, 20099, 202),
    City("Baltimore", "MD", 21201, 21298, 410),
    City("Philadelphia", "PA", 19102, 19155, 215),
    City("Pittsburgh", "PA", 15201, 15295, 412),
    City("Newark", "NJ", 7101, 7199, 973),
    City("New York", "NY", 10001, 10282, 212),
    City("Buffalo", "NY", 14201, 14280, 716),
    City("Boston", "MA", 2108, 2298, 617),
    City("Providence", "RI", 2901, 2940, 401),
    City("Hartford", "CT", 6101, 6199, 860),
    City("Burlington", "VT", 5401, 5408, 802),
    City("Portland", "ME", 4101, 4124, 207),
    City("Manchester", "NH", 3101, 3111, 603),
    City("Honolulu", "HI", 96801, 96850, 808),
    City("Anchorage", "AK", 99501, 99524, 907),
    City("San Juan", "PR", 901, 940, 787),
];

#[rustfmt::skip]
pub(super) const FIRST_NAMES: &[&str] = &[
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "William",
    "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Christopher", "Karen", "Daniel", "Lisa",
    "Matthew", "Nancy", "Anthony", "Sandra", "Mark", "Ashley", "Steven", "Emily", "Andrew", "Michelle", "Joshua",
    "Amanda", "Kevin", "Melissa", "Brian", "Stephanie", "Priya", "Rebecca", "Wei", "Laura", "Carlos", "Maria",
    "Luis", "Ana", "Jose", "Sofia", "Ahmed", "Fatima", "Omar", "Aisha", "Hiroshi", "Yuki", "Min-jun", "Seo-yeon",
    "Raj", "Ananya", "Arjun", "Mei", "Chen", "Olivia", "Noah", "Emma", "Liam", "Ava", "Ethan", "Isabella", "Lucas",
    "Mia", "Amara", "Chinedu", "Ngozi", "Kwame", "Abena", "Dmitri", "Elena", "Ivan", "Katarzyna", "Piotr", "Helen",
    "Samuel", "Grace", "Benjamin", "Hannah", "Nathan", "Rachel", "Gabriel", "Leah", "Isaac", "Naomi", "Diego",
    "Valentina", "Mateo", "Camila", "Tariq", "Layla", "Hassan", "Zara", "Kenji", "Aiko", "Thanh", "Linh", "Rohan",
];

#[rustfmt::skip]
pub(super) const LAST_NAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
    "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
    "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker",
    "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Kim", "Patel", "Shah", "Okafor", "Adeyemi",
    "Mensah", "Chen", "Wang", "Li", "Zhang", "Liu", "Tanaka", "Suzuki", "Park", "Choi", "Singh", "Kumar", "Gupta",
    "Khan", "Ali", "Hussain", "Ivanova", "Petrov", "Kowalski", "Nowak", "O'Brien", "Murphy", "Kelly", "Sullivan",
    "McCarthy", "Brooks", "Bennett", "Gray", "James", "Reyes", "Cruz", "Hughes", "Price", "Myers", "Long", "Foster",
    "Sanders", "Ross", "Morales", "Powell", "Jenkins", "Perry", "Russell", "Diaz", "Hayes", "Tran", "Pham", "Vo",
];

#[rustfmt::skip]
pub(super) const PLACES: &[&str] = &[
    "Lakeside", "Riverside", "Cedar Valley", "Summit", "Northgate", "Harbor", "Pinecrest", "Meadowbrook",
    "Evergreen", "Bayview", "Highland", "Westside", "Eastlake", "Parkview", "Sunrise", "Willow Creek",
    "Maple Grove", "Stonebridge", "Clearwater", "Oak Hill", "Fairview", "Greenfield", "Hillcrest", "Brookside",
    "Valley View",
];

#[rustfmt::skip]
pub(super) const SPECIALTIES: &[&str] = &[
    "Family Medicine", "Internal Medicine", "Pediatrics", "Cardiology", "Orthopedics", "Dermatology",
    "Obstetrics & Gynecology", "Behavioral Health", "Neurology", "Gastroenterology", "Oncology", "Ophthalmology",
    "Urology", "Pulmonology", "Endocrinology", "Rheumatology", "Physical Therapy", "Podiatry",
    "Allergy & Immunology", "Nephrology", "Otolaryngology", "Sports Medicine", "Pain Management", "Primary Care",
    "Women's Health",
];

#[rustfmt::skip]
pub(super) const GROUP_SUFFIXES: &[&str] = &[
    "Associates", "Group", "Clinic", "Partners", "Specialists", "Physicians",
];

#[rustfmt::skip]
pub(super) const FACILITIES: &[&str] = &[
    "General Hospital", "Medical Center", "Community Hospital", "Surgery Center", "Regional Medical Center",
    "Rehabilitation Hospital", "Imaging Center", "Behavioral Health Center", "Urgent Care", "Dialysis Center",
];

#[rustfmt::skip]
pub(super) const STREETS: &[&str] = &[
    "Main St", "Oak Ave", "Maple Ave", "Cedar St", "Pine St", "Elm St", "Washington Blvd", "Lake Dr", "Hill Rd",
    "Park Ave", "Lincoln Way", "Jefferson St", "Madison Ave", "Broadway", "Market St", "Center St", "Church St",
    "River Rd", "Harbor Blvd", "Medical Center Dr", "Hospital Way", "Professional Pkwy", "University Ave",
    "Highland Ave", "Sunset Blvd", "Valley View Rd", "Commerce Dr", "Mill St", "Spring St", "College Ave",
];
