"""Reference lists: names with GB/IE frequency weights, nicknames, streets, places.

Weights are rough relative frequencies: a few names dominate (so unrelated
people share full names), a long tail of rarer and accented ones follows.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import polars as pl

# (name, weight in GB, weight in IE)
FEMALE = [
    ("Sarah", 30, 20), ("Emma", 28, 22), ("Laura", 22, 15), ("Claire", 22, 10),
    ("Rebecca", 18, 8), ("Emily", 18, 14), ("Charlotte", 18, 8), ("Jessica", 16, 10),
    ("Hannah", 16, 12), ("Sophie", 16, 12), ("Lucy", 15, 8), ("Amy", 15, 10),
    ("Elizabeth", 15, 10), ("Katherine", 12, 8), ("Margaret", 12, 14), ("Susan", 14, 6),
    ("Helen", 14, 6), ("Karen", 12, 6), ("Julie", 12, 5), ("Nicola", 12, 6),
    ("Rachel", 12, 6), ("Victoria", 12, 4), ("Jennifer", 10, 6), ("Patricia", 8, 10),
    ("Deborah", 8, 2), ("Samantha", 10, 4), ("Olivia", 12, 10), ("Amelia", 10, 4),
    ("Isla", 8, 4), ("Ava", 8, 8), ("Grace", 10, 12), ("Chloe", 14, 8),
    ("Chloé", 3, 1), ("Zoe", 8, 4), ("Zoë", 3, 1), ("Mia", 8, 6),
    ("Ella", 8, 8), ("Lily", 8, 6), ("Freya", 6, 1), ("Evie", 6, 3),
    ("Poppy", 5, 1), ("Anna", 8, 8), ("Joanne", 9, 3), ("Lisa", 10, 5),
    ("Michelle", 9, 5), ("Kelly", 7, 4), ("Gemma", 8, 3), ("Natalie", 8, 3),
    ("Louise", 10, 5), ("Catherine", 10, 10), ("Mary", 10, 20), ("Anne", 8, 10),
    ("Jane", 8, 3), ("Alison", 7, 2), ("Angela", 7, 4), ("Christine", 7, 3),
    ("Dorothy", 4, 2), ("Barbara", 5, 2), ("Alexandra", 6, 3), ("Jacqueline", 6, 2),
    ("Abigail", 6, 2), ("Eleanor", 6, 2), ("Megan", 7, 5), ("Fiona", 5, 3),
    ("Kirsty", 4, 0.5), ("Rhiannon", 2, 0.2), ("Ffion", 1.5, 0), ("Seren", 1, 0),
    ("Eilidh", 1, 0), ("Bronwen", 1, 0), ("Aoife", 1, 20), ("Niamh", 2, 18),
    ("Siobhán", 1, 12), ("Saoirse", 1, 12), ("Róisín", 1, 10), ("Sinéad", 1, 10),
    ("Caoimhe", 0.5, 10), ("Orla", 1, 8), ("Ciara", 2, 12), ("Aisling", 0.5, 8),
    ("Méabh", 0.2, 5), ("Clodagh", 0.3, 5), ("Éabha", 0.1, 4), ("Fatima", 4, 1),
    ("Aisha", 4, 1), ("Priya", 4, 1), ("Agnieszka", 2, 2), ("Małgorzata", 1, 1),
    ("Zofia", 1, 1), ("Renée", 1, 0.5), ("Hélène", 0.5, 0.2), ("Léa", 1, 0.5),
    ("Noémie", 0.5, 0.2), ("Inès", 0.5, 0.2), ("María", 1, 1), ("Sofía", 1, 0.5),
    ("Joséphine", 0.3, 0.1), ("Åsa", 0.2, 0.1), ("Ingrid", 0.5, 0.2), ("Beatriz", 0.5, 0.3),
]

MALE = [
    ("David", 30, 20), ("John", 28, 26), ("Michael", 25, 25), ("James", 28, 18),
    ("Paul", 18, 16), ("Robert", 18, 10), ("Mark", 18, 12), ("Andrew", 18, 8),
    ("Richard", 16, 6), ("Peter", 14, 10), ("Daniel", 18, 14), ("Thomas", 18, 14),
    ("Christopher", 16, 8), ("Stephen", 14, 10), ("William", 16, 8), ("Matthew", 14, 6),
    ("Anthony", 10, 6), ("Joseph", 10, 8), ("Jonathan", 9, 4), ("Benjamin", 10, 4),
    ("Samuel", 10, 6), ("Jack", 14, 14), ("Oliver", 14, 6), ("Harry", 12, 4),
    ("George", 12, 3), ("Charlie", 10, 4), ("Alexander", 9, 6), ("Edward", 9, 3),
    ("Nicholas", 8, 4), ("Simon", 10, 3), ("Gary", 10, 4), ("Kevin", 9, 10),
    ("Ian", 10, 2), ("Steven", 10, 4), ("Lee", 7, 1), ("Craig", 7, 2),
    ("Scott", 7, 1), ("Ryan", 9, 6), ("Adam", 9, 6), ("Luke", 8, 6),
    ("Liam", 7, 12), ("Noah", 6, 6), ("Leo", 6, 3), ("Oscar", 6, 3),
    ("Arthur", 5, 2), ("Henry", 6, 2), ("Frederick", 3, 1), ("Gerald", 3, 2),
    ("Francis", 3, 5), ("Patrick", 6, 16), ("Sean", 5, 10), ("Seán", 2, 14),
    ("Ciarán", 1, 10), ("Pádraig", 0.5, 8), ("Éamon", 0.5, 6), ("Oisín", 0.5, 10),
    ("Cian", 0.5, 10), ("Darragh", 0.5, 8), ("Eoin", 1, 10), ("Conor", 3, 14),
    ("Colm", 0.5, 6), ("Dónal", 0.3, 5), ("Tadhg", 0.3, 5), ("Declan", 2, 8),
    ("Brendan", 2, 8), ("Niall", 2, 8), ("Tomás", 0.5, 4), ("Mohammed", 8, 1),
    ("Muhammad", 6, 1), ("Ahmed", 3, 0.5), ("Raj", 2, 0.2), ("Arjun", 2, 0.5),
    ("José", 1, 0.5), ("François", 0.5, 0.2), ("Jérôme", 0.3, 0.1), ("André", 0.5, 0.2),
    ("Andrés", 0.3, 0.2), ("Łukasz", 1.5, 1.5), ("Wojciech", 0.5, 0.5), ("Piotr", 1.5, 1.5),
    ("Øyvind", 0.1, 0.05), ("Søren", 0.1, 0.05), ("Björn", 0.2, 0.1), ("Jürgen", 0.2, 0.1),
    ("Rhys", 3, 0.2), ("Gareth", 4, 0.5), ("Dylan", 4, 3), ("Callum", 5, 2),
    ("Jamie", 6, 3), ("Alan", 7, 5), ("Keith", 5, 2), ("Graham", 5, 1),
    ("Neil", 6, 2), ("Martin", 8, 8), ("Philip", 6, 3), ("Timothy", 5, 2),
    ("Ronald", 3, 1), ("Kenneth", 3, 1), ("Terence", 2, 1), ("Dennis", 2, 1),
]

# formal name -> nicknames people actually go by (>40 pairs)
COMMON_NICKNAMES = {
    "Robert": ["Bob", "Rob", "Bobby"], "William": ["Bill", "Will", "Billy"],
    "Elizabeth": ["Liz", "Beth", "Lizzie", "Betty"], "Margaret": ["Peggy", "Maggie", "Meg"],
    "Richard": ["Rick", "Dick", "Richie"], "James": ["Jim", "Jimmy"],
    "John": ["Johnny", "Jack"], "Michael": ["Mike", "Mick"], "David": ["Dave", "Davy"],
    "Christopher": ["Chris", "Kit"], "Stephen": ["Steve"], "Steven": ["Steve"],
    "Andrew": ["Andy", "Drew"], "Anthony": ["Tony"], "Thomas": ["Tom", "Tommy"],
    "Daniel": ["Dan", "Danny"], "Matthew": ["Matt"], "Joseph": ["Joe", "Joey"],
    "Jonathan": ["Jon", "Jonny"], "Benjamin": ["Ben", "Benny"], "Samuel": ["Sam", "Sammy"],
    "Alexander": ["Alex", "Sandy"], "Edward": ["Ed", "Eddie", "Ted"], "Nicholas": ["Nick"],
    "Peter": ["Pete"], "Timothy": ["Tim"], "Kenneth": ["Ken", "Kenny"], "Ronald": ["Ron", "Ronnie"],
    "Frederick": ["Fred", "Freddie"], "Henry": ["Harry", "Hal"], "Patrick": ["Pat", "Paddy"],
    "Pádraig": ["Paddy"], "Philip": ["Phil"], "Gerald": ["Gerry"], "Francis": ["Frank"],
    "Terence": ["Terry"], "Tomás": ["Tom"], "Katherine": ["Kate", "Kathy", "Katie"],
    "Catherine": ["Cathy", "Kate"], "Jennifer": ["Jen", "Jenny"], "Patricia": ["Pat", "Trish"],
    "Deborah": ["Debbie", "Deb"], "Samantha": ["Sam", "Sammy"], "Victoria": ["Vicky", "Tori"],
    "Rebecca": ["Becky", "Becca"], "Jessica": ["Jess", "Jessie"], "Alexandra": ["Alex", "Lexi"],
    "Abigail": ["Abby", "Abi"], "Eleanor": ["Ellie", "Nell"], "Susan": ["Sue", "Susie"],
    "Christine": ["Chris", "Chrissie"], "Jacqueline": ["Jackie"], "Dorothy": ["Dot", "Dottie"],
    "Barbara": ["Barb", "Babs"], "Nicola": ["Nicky"], "Joanne": ["Jo"], "Natalie": ["Nat"],
    "Charlotte": ["Lottie", "Charlie"], "Amelia": ["Millie"], "Mary": ["Molly", "Mae"],
    "Olivia": ["Liv"], "Małgorzata": ["Gosia"], "Agnieszka": ["Aga"], "Łukasz": ["Luke"],
}
# More short forms in everyday use, written down without looking at the
# model's nickname list (dbt/seeds/nicknames.csv), so that generated data
# also holds nicknames the model does not know (tests/test_generate.py
# checks most of these pairs are not in the seed).
EVERYDAY_SHORT_FORMS = {
    "Emma": ["Em", "Emmy"], "Laura": ["Laurie"], "Emily": ["Millie"], "Charlotte": ["Char"],
    "Jessica": ["Jessa"], "Hannah": ["Han"], "Sophie": ["Soph"], "Lucy": ["Lu", "Luce"],
    "Katherine": ["Kat", "Kit"], "Margaret": ["Greta", "Maisie"], "Susan": ["Suki"], "Helen": ["Nell"],
    "Victoria": ["Vic"], "Jennifer": ["Jenna"], "Deborah": ["Debs"], "Olivia": ["Ollie"],
    "Natalie": ["Tally"], "Catherine": ["Cat", "Cate"], "Jane": ["Janie"], "Alison": ["Ali"],
    "Angela": ["Angie", "Ange"], "Christine": ["Tina"], "Dorothy": ["Dodie"], "Barbara": ["Bobbie"],
    "Alexandra": ["Lexie"], "Jacqueline": ["Jacqui"], "Eleanor": ["Elle"], "Megan": ["Meg"],
    "Fiona": ["Fi"], "Siobhán": ["Shiv"], "David": ["Dai", "Davie"], "John": ["Jock", "Johnnie"],
    "James": ["Jimbo"], "Paul": ["Paulie"], "Robert": ["Bert"], "Peter": ["Petey"], "Daniel": ["Dannie"],
    "Thomas": ["Tam", "Tomo"], "Christopher": ["Topher"], "Stephen": ["Steph"], "William": ["Liam", "Wills"],
    "Anthony": ["Tone"], "Joseph": ["Jody"], "Benjamin": ["Benjy"], "Samuel": ["Sammie"],
    "Harry": ["Haz"], "George": ["Georgie"], "Alexander": ["Xander", "Lex"], "Nicholas": ["Nicky", "Nico"],
    "Simon": ["Si"], "Kevin": ["Kev"], "Steven": ["Stevie"], "Henry": ["Hen"], "Frederick": ["Fritz"],
    "Gerald": ["Ged"], "Francis": ["Fran"], "Callum": ["Cal"], "Gareth": ["Gaz"], "Terence": ["Tel"],
    "Ronald": ["Ronny"], "Martin": ["Marty"], "Alan": ["Al"],
}
NICKNAMES = {
    formal: list(dict.fromkeys(COMMON_NICKNAMES.get(formal, []) + EVERYDAY_SHORT_FORMS.get(formal, [])))
    for formal in COMMON_NICKNAMES | EVERYDAY_SHORT_FORMS
}

# (surname, weight in GB, weight in IE); double-barrelled and O' names included.
SURNAMES = [
    ("Smith", 120, 25), ("Jones", 80, 5), ("Williams", 60, 6), ("Taylor", 55, 5),
    ("Brown", 52, 12), ("Davies", 45, 2), ("Evans", 38, 2), ("Wilson", 38, 8),
    ("Thomas", 35, 3), ("Johnson", 32, 4), ("Roberts", 32, 2), ("Robinson", 28, 4),
    ("Thompson", 28, 5), ("Wright", 28, 5), ("Walker", 27, 4), ("White", 27, 6),
    ("Edwards", 25, 2), ("Hughes", 25, 6), ("Green", 24, 4), ("Hall", 23, 3),
    ("Lewis", 23, 3), ("Harris", 22, 3), ("Clarke", 22, 6), ("Patel", 22, 1),
    ("Jackson", 21, 2), ("Wood", 20, 1), ("Turner", 20, 2), ("Martin", 19, 8),
    ("Cooper", 19, 2), ("Hill", 18, 2), ("Ward", 18, 6), ("Morris", 18, 3),
    ("Moore", 17, 10), ("Clark", 17, 3), ("Lee", 17, 3), ("King", 16, 3),
    ("Baker", 16, 2), ("Harrison", 15, 2), ("Morgan", 15, 3), ("Allen", 15, 3),
    ("James", 14, 2), ("Scott", 14, 3), ("Phillips", 14, 2), ("Watson", 14, 3),
    ("Davis", 13, 2), ("Parker", 13, 2), ("Price", 13, 2), ("Bennett", 13, 2),
    ("Young", 13, 3), ("Griffiths", 12, 1), ("Mitchell", 12, 3), ("Kelly", 12, 40),
    ("Cook", 12, 2), ("Carter", 12, 2), ("Richardson", 11, 1), ("Bailey", 11, 2),
    ("Collins", 11, 12), ("Bell", 11, 3), ("Shaw", 11, 2), ("Murphy", 11, 60),
    ("Miller", 11, 3), ("Cox", 10, 2), ("Richards", 10, 1), ("Khan", 10, 1),
    ("Marshall", 10, 2), ("Anderson", 10, 2), ("Simpson", 10, 2), ("Ellis", 10, 2),
    ("Adams", 10, 2), ("Singh", 10, 1), ("Begum", 8, 0), ("Wilkinson", 9, 1),
    ("Foster", 9, 1), ("Chapman", 9, 1), ("Powell", 9, 2), ("Webb", 9, 1),
    ("Rogers", 9, 2), ("Gray", 9, 3), ("Mason", 9, 2), ("Ali", 8, 1),
    ("Hunt", 8, 2), ("Hussain", 8, 0.5), ("Campbell", 8, 4), ("Matthews", 8, 1),
    ("Owen", 8, 2), ("Palmer", 8, 1), ("Holmes", 8, 1), ("Mills", 8, 1),
    ("Barnes", 8, 1), ("Knight", 8, 1), ("Lloyd", 8, 1), ("Butler", 8, 6),
    ("Russell", 8, 3), ("Barker", 7, 1), ("Fisher", 7, 2), ("Stevens", 7, 1),
    ("Jenkins", 7, 1), ("Murray", 7, 18), ("Dixon", 7, 1), ("Harvey", 7, 2),
    ("Graham", 7, 3), ("Pearson", 7, 1), ("Ahmed", 7, 0.5), ("Fletcher", 7, 1),
    ("Walsh", 7, 40), ("Kaur", 6, 0), ("Gibson", 6, 2), ("Howard", 6, 2),
    ("Andrews", 6, 1), ("Stewart", 6, 4), ("Elliott", 6, 2), ("Reynolds", 6, 3),
    ("Saunders", 6, 1), ("Payne", 6, 1), ("Fox", 6, 3), ("Ford", 6, 3),
    ("Pearce", 6, 1), ("Day", 5, 1), ("Brooks", 5, 1), ("West", 5, 1),
    ("Lawrence", 5, 2), ("Cole", 5, 1), ("Atkinson", 5, 1), ("Bradley", 5, 3),
    ("Spencer", 5, 1), ("Gill", 5, 1), ("Dawson", 5, 2), ("Ball", 5, 1),
    ("Burton", 5, 1), ("O'Brien", 5, 35), ("Watts", 5, 1), ("Rose", 5, 1),
    ("Booth", 5, 1), ("Perry", 5, 1), ("Ryan", 5, 40), ("Grant", 5, 2),
    ("Wells", 4, 1), ("Armstrong", 4, 2), ("Francis", 4, 1), ("Rees", 4, 0.5),
    ("Hayes", 4, 8), ("Hart", 4, 2), ("Hudson", 4, 1), ("Newman", 4, 1),
    ("Barrett", 4, 6), ("Webster", 4, 1), ("Hunter", 4, 2), ("Gregory", 4, 1),
    ("Carr", 4, 3), ("Lowe", 4, 1), ("Page", 4, 1), ("Marsh", 4, 1),
    ("Riley", 4, 3), ("Dunn", 4, 4), ("Woods", 4, 2), ("Parsons", 4, 1),
    ("Berry", 4, 2), ("Stone", 4, 1), ("Reid", 4, 3), ("Holland", 4, 1),
    ("Byrne", 4, 45), ("Kennedy", 4, 20), ("O'Connor", 4, 35), ("O'Neill", 4, 25),
    ("McCarthy", 3, 30), ("McDonald", 4, 5), ("Doyle", 3, 30), ("Gallagher", 2, 20),
    ("Doherty", 2, 20), ("Lynch", 2, 20), ("Quinn", 3, 18), ("Daly", 2, 18),
    ("Connolly", 2, 15), ("O'Sullivan", 3, 45), ("Fitzgerald", 2, 15), ("Brennan", 2, 15),
    ("Nolan", 2, 12), ("Moran", 2, 12), ("Gavin", 1, 6), ("Ó Briain", 0.1, 2),
    ("Ní Bhriain", 0.05, 1), ("MacGiolla", 0.1, 1), ("Mistry", 3, 0.2), ("Shah", 4, 0.5),
    ("Chowdhury", 3, 0.2), ("Nowak", 2, 3), ("Kowalski", 1.5, 2), ("Wiśniewski", 0.8, 1),
    ("Müller", 0.8, 0.5), ("Schmidt", 0.8, 0.5), ("García", 1, 0.5), ("Fernández", 0.8, 0.4),
    ("Rodríguez", 0.8, 0.4), ("López", 0.8, 0.4), ("Martínez", 0.8, 0.4), ("González", 0.8, 0.4),
    ("Pérez", 0.6, 0.3), ("Dubois", 0.5, 0.2), ("Lefèvre", 0.4, 0.2), ("Öztürk", 0.5, 0.1),
    ("Nielsen", 0.4, 0.2), ("Østergaard", 0.2, 0.1), ("Brontë", 0.1, 0.05), ("Ó Ceallaigh", 0.05, 1),
    ("Smith-Jones", 0.8, 0.1), ("Bowes-Lyon", 0.2, 0), ("Lloyd-Webber", 0.2, 0), ("Van der Berg", 0.5, 0.2),
    ("De Souza", 0.8, 0.3), ("Le Roux", 0.3, 0.1), ("McAllister", 1.5, 2), ("MacLeod", 1.5, 0.5),
]

# Long tail of rarer (toponymic) surnames: in real populations most people have
# a surname outside the top 200, which keeps full-name collisions plausible.
_TAIL_HEADS = ["Ash", "Black", "Brad", "Brook", "Chad", "Clay", "Crom", "Dal", "Dun", "Elm", "Fair", "Gold",
               "Green", "Hal", "Hart", "Hay", "Holm", "Kings", "Lang", "Lock", "Mar", "Mid", "Mor", "New",
               "North", "Oak", "Pen", "Rad", "Red", "Ros", "Rush", "Sand", "Shel", "Stan", "Stock", "Thorn",
               "Wad", "Wake", "Wal", "West", "Whit", "Wim", "Win", "Wood", "Wor", "Brom"]
_TAIL_ENDS = ["ley", "ton", "by", "ford", "field", "well", "worth", "wood", "ham", "combe", "hurst", "more",
              "stead", "wick", "bridge", "dale", "cott", "den", "land", "shaw"]
TAIL_SURNAMES = sorted({h + e for h in _TAIL_HEADS for e in _TAIL_ENDS} - {r[0] for r in SURNAMES})
TAIL_SHARE = (0.6, 0.3)  # share of GB / IE people with a tail surname

NAME_WORDS = [  # unrelated email handles: no name in the address
    "sunny", "bluebird", "tigerlily", "redkite", "starlight", "moonbeam", "happyday",
    "dragonfly", "skyrunner", "seaside", "wildrose", "puddleduck", "thunderbolt",
    "greenleaf", "silverfox", "misty", "rainbow", "honeybee", "oldoak", "footyfan",
    "gamerpro", "bookworm", "cakelover", "nightowl", "stormchaser", "daisychain",
]

STREETS = [
    "High", "Church", "Station", "Main", "Park", "Victoria", "Green", "Manor", "Kings",
    "Queens", "Mill", "New", "Windsor", "Alexandra", "Albert", "York", "Grange", "George",
    "School", "Springfield", "North", "South", "West", "East", "Chapel", "Richmond",
    "Highfield", "Broadway", "Elm", "Oak", "Ash", "Beech", "Willow", "Cedar", "Birch",
    "Hawthorn", "Orchard", "Meadow", "Riverside", "Castle", "Market", "Bridge", "Water",
    "Westfield", "Kingsway", "Cromwell", "Stanley", "Nelson", "Wellington", "Marlborough",
    "Clarence", "Cambridge", "Oxford", "London", "Bath", "Derby", "Chester", "Lancaster",
    "St John's", "St Mary's", "St Andrew's", "Woodland", "Lime", "Poplar", "Sycamore",
    "Holly", "Ivy", "Rose", "Primrose", "Heather", "Fern", "Heath", "Hillside",
    "Lakeside", "Brookside", "Moor", "Fox", "Badger", "Kestrel", "Swallow", "Lark",
    "Abbey", "Priory", "Rectory", "Vicarage", "Farm", "Mount", "Tower", "Harbour",
    "Quay", "Dock", "Canal", "Forge", "Tanner's", "Weaver's", "Miller's", "Ship",
    "Sandy", "Stoney", "Long", "Short", "Upper", "Lower", "Middle", "Back",
    "Jubilee", "Coronation", "Trinity", "Bishop's", "Dean", "Cathedral", "Minster",
    "Ormonde", "Leinster", "Dunluce", "Glenview", "Cnoc na Gréine", "Bóthar na Trá",
]

# (full suffix, abbreviation) -- CRM keeps full words, other systems abbreviate
STREET_TYPES = [
    ("Road", "Rd"), ("Street", "St"), ("Lane", "Ln"), ("Avenue", "Ave"), ("Close", "Cl"),
    ("Drive", "Dr"), ("Way", "Way"), ("Crescent", "Cres"), ("Gardens", "Gdns"),
    ("Grove", "Gr"), ("Place", "Pl"), ("Terrace", "Terr"), ("Court", "Ct"),
    ("Park", "Pk"), ("Row", "Row"), ("Square", "Sq"), ("View", "Vw"), ("Walk", "Wlk"),
]
STREET_TYPE_WEIGHTS = [30, 25, 12, 10, 8, 7, 4, 4, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1]

# (city, region, postcode areas "AREA:max district", weight). GB regions are ONS regions.
GB_CITIES = [
    ("London", "London", "E:18 EC:4 N:22 NW:11 SE:28 SW:20 W:14 WC:2", 90),
    ("Birmingham", "West Midlands", "B:98", 18), ("Manchester", "North West", "M:45", 16),
    ("Leeds", "Yorkshire and the Humber", "LS:29", 12), ("Glasgow", "Scotland", "G:84", 12),
    ("Liverpool", "North West", "L:40", 9), ("Sheffield", "Yorkshire and the Humber", "S:36", 8),
    ("Bristol", "South West", "BS:49", 9), ("Edinburgh", "Scotland", "EH:55", 9),
    ("Cardiff", "Wales", "CF:83", 7), ("Leicester", "East Midlands", "LE:19", 6),
    ("Nottingham", "East Midlands", "NG:25", 7), ("Newcastle upon Tyne", "North East", "NE:66", 8),
    ("Belfast", "Northern Ireland", "BT:17", 7), ("Southampton", "South East", "SO:53", 5),
    ("Brighton", "South East", "BN:45", 5), ("Reading", "South East", "RG:45", 5),
    ("Oxford", "South East", "OX:49", 4), ("Cambridge", "East of England", "CB:25", 4),
    ("Norwich", "East of England", "NR:35", 4), ("York", "Yorkshire and the Humber", "YO:62", 3),
    ("Coventry", "West Midlands", "CV:47", 5), ("Plymouth", "South West", "PL:35", 4),
    ("Exeter", "South West", "EX:39", 3), ("Aberdeen", "Scotland", "AB:56", 3),
    ("Swansea", "Wales", "SA:73", 3), ("Derby", "East Midlands", "DE:75", 4),
    ("Stoke-on-Trent", "West Midlands", "ST:21", 4), ("Milton Keynes", "South East", "MK:46", 4),
    ("Bournemouth", "South West", "BH:31", 3), ("Sunderland", "North East", "SR:9", 3),
    ("Kingston upon Hull", "Yorkshire and the Humber", "HU:20", 3), ("Preston", "North West", "PR:26", 2),
    ("Chelmsford", "East of England", "CM:24", 3), ("Ipswich", "East of England", "IP:33", 2),
    ("Dundee", "Scotland", "DD:11", 2), ("Guildford", "South East", "GU:52", 3),
]

# Irish cities: region is the county; areas are Eircode routing keys.
IE_CITIES = [
    ("Dublin", "Co. Dublin", "D01 D02 D03 D04 D05 D06 D6W D07 D08 D09 D11 D12 D13 D15 D18 D24", 45),
    ("Cork", "Co. Cork", "T12 T23 P31", 14), ("Galway", "Co. Galway", "H91", 8),
    ("Limerick", "Co. Limerick", "V94", 6), ("Waterford", "Co. Waterford", "X91", 4),
    ("Kilkenny", "Co. Kilkenny", "R95", 3), ("Naas", "Co. Kildare", "W91", 3),
    ("Navan", "Co. Meath", "C15", 3), ("Drogheda", "Co. Louth", "A92", 3),
    ("Sligo", "Co. Sligo", "F91", 2), ("Wexford", "Co. Wexford", "Y35", 2),
]

EMAIL_DOMAINS_GB = [
    ("gmail.com", 35), ("hotmail.co.uk", 14), ("yahoo.co.uk", 7), ("outlook.com", 10),
    ("icloud.com", 8), ("btinternet.com", 5), ("live.co.uk", 4), ("sky.com", 3),
    ("aol.com", 2), ("googlemail.com", 3), ("virginmedia.com", 3), ("protonmail.com", 1),
    ("hotmail.com", 4), ("me.com", 1),
]
EMAIL_DOMAINS_IE = [
    ("gmail.com", 40), ("hotmail.com", 15), ("yahoo.ie", 6), ("eircom.net", 8),
    ("outlook.ie", 6), ("icloud.com", 8), ("outlook.com", 8), ("live.ie", 4), ("me.com", 2),
]
FAMILY_DOMAINS = ["btinternet.com", "sky.com", "gmail.com", "virginmedia.com", "talktalk.net", "eircom.net"]

_NON_DECOMPOSING = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae", "Æ": "AE"})


def ascii_fold(s: str) -> str:
    """'Siobhán' -> 'Siobhan': how accent-less systems store the name."""
    s = s.translate(_NON_DECOMPOSING)
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def email_key(s: str) -> str:
    """Lower-case ASCII letters only, as people type names into addresses."""
    return "".join(c for c in ascii_fold(s).lower() if c.isalnum())


def _weights(rows, col: int) -> np.ndarray:
    w = np.array([r[col] for r in rows], dtype=np.float64)
    return w / w.sum()


# First-name table: female then male; nicknames appended after, so one index
# space covers both and lookups are a single gather.
FIRST = [r[0] for r in FEMALE] + [r[0] for r in MALE]
N_FEMALE = len(FEMALE)
FEMALE_P = (_weights(FEMALE, 1), _weights(FEMALE, 2))
MALE_P = (_weights(MALE, 1), _weights(MALE, 2))
NICK = sorted({n for v in NICKNAMES.values() for n in v})
NICK_BASE = len(FIRST)
NICK_OPTIONS = [[NICK.index(n) for n in NICKNAMES.get(f, [])] for f in FIRST]
ALL_FIRST = FIRST + NICK
SURNAME = [r[0] for r in SURNAMES] + TAIL_SURNAMES


def _surname_p(col: int, tail_share: float) -> np.ndarray:
    # flatten the head (w**0.85): Smith ends up ~1.3% of GB people, as in the census
    head = _weights(SURNAMES, col) ** 0.85
    head = head / head.sum() * (1 - tail_share)
    return np.concatenate([head, np.full(len(TAIL_SURNAMES), tail_share / len(TAIL_SURNAMES))])


SURNAME_P = (_surname_p(1, TAIL_SHARE[0]), _surname_p(2, TAIL_SHARE[1]))


def _series(values: list[str]) -> pl.Series:
    return pl.Series(values, dtype=pl.String)


# [original..., ascii-folded...]: index + len(table) selects the folded form.
FIRST_S = _series(ALL_FIRST + [ascii_fold(s) for s in ALL_FIRST])
SURNAME_S = _series(SURNAME + [ascii_fold(s) for s in SURNAME])
FIRST_KEY_S = _series([email_key(s) for s in ALL_FIRST])
SURNAME_KEY_S = _series([email_key(s) for s in SURNAME])
STREET_S = _series(STREETS)
STREET_TYPE_S = _series([t[0] for t in STREET_TYPES] + [t[1] for t in STREET_TYPES])
STREET_TYPE_P = np.array(STREET_TYPE_WEIGHTS, dtype=np.float64) / sum(STREET_TYPE_WEIGHTS)
WORD_S = _series(NAME_WORDS)


def _city_tables():
    cities, regions, country, weights, areas, area_city, area_maxd = [], [], [], [], [], [], []
    for ie, table in ((False, GB_CITIES), (True, IE_CITIES)):
        for city, region, spec, w in table:
            ci = len(cities)
            cities.append(city)
            regions.append(region)
            country.append(ie)
            weights.append(w)
            for a in spec.split():
                name, _, maxd = a.partition(":")
                areas.append(name)
                area_city.append(ci)
                area_maxd.append(int(maxd) if maxd else 0)
    return cities, regions, np.array(country), np.array(weights, float), areas, np.array(area_city), np.array(area_maxd)


CITIES, REGIONS, CITY_IE, _CITY_W, AREAS, AREA_CITY, AREA_MAXD = _city_tables()
CITY_S = _series(CITIES)
REGION_S = _series(REGIONS)
AREA_S = _series(AREAS)
CITY_P_GB = np.where(CITY_IE, 0.0, _CITY_W) / np.where(CITY_IE, 0.0, _CITY_W).sum()
CITY_P_IE = np.where(CITY_IE, _CITY_W, 0.0) / np.where(CITY_IE, _CITY_W, 0.0).sum()
# first area index of each city and how many it has
CITY_AREA_START = np.array([int(np.argmax(AREA_CITY == c)) for c in range(len(CITIES))])
CITY_AREA_COUNT = np.bincount(AREA_CITY, minlength=len(CITIES))
DOMAINS_GB_S = _series([d for d, _ in EMAIL_DOMAINS_GB])
DOMAINS_GB_P = _weights(EMAIL_DOMAINS_GB, 1)
DOMAINS_IE_S = _series([d for d, _ in EMAIL_DOMAINS_IE])
DOMAINS_IE_P = _weights(EMAIL_DOMAINS_IE, 1)
FAMILY_DOMAINS_S = _series(FAMILY_DOMAINS)
CITIES_LONDON = np.array([c == "London" for c in CITIES])
