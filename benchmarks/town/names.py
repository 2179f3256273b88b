"""Name lists of the town, written for this benchmark alone (independent of the sample generator).

Per origin: first names by sex and surnames, most common first; a person's
name is drawn with Zipf weights over the list's order, so the top names are
frequent and same-name strangers occur. NICKNAMES: the forms people write on
a form for themselves (diminutives, short forms, spelling variants).
"""

from __future__ import annotations

ORIGINS = {  # share of households
    "english": 0.52, "irish": 0.12, "polish": 0.10, "south_asian": 0.13, "hispanic": 0.06, "west_african": 0.07,
}

FIRST_NAMES = {
    "english": {
        "m": "John David Michael James Robert William Paul Peter Richard Thomas Christopher Andrew Mark Stephen Daniel "
             "Matthew Anthony Jonathan Simon Edward Benjamin Samuel Joseph George Charles Oliver Harry Jack Henry Alexander "
             "Nicholas Timothy Philip Graham Keith Trevor Kenneth Raymond Dennis Leonard Frederick Albert Arthur Ernest "
             "Harold Walter Stanley Nathan Luke Adam Ryan Jake Callum Lewis Owen Ethan Noah Leo Alfie Archie Theo Freddie "
             "Jon Jonathon Stuart Gareth Wayne Lee Dean Craig Gary Darren Neil Ian Alan Barry Colin Derek",
        "f": "Sarah Elizabeth Margaret Susan Catherine Jennifer Rebecca Emma Charlotte Victoria Helen Jane Mary Patricia "
             "Deborah Karen Julie Nicola Joanne Claire Louise Rachel Amanda Michelle Kimberly Samantha Hannah Lucy Sophie "
             "Olivia Amelia Isla Ava Emily Grace Lily Ella Chloe Megan Jessica Abigail Eleanor Alice Florence Evelyn Dorothy "
             "Joan Barbara Doreen Irene Brenda Valerie Christine Gillian Pauline Lesley Tracey Kerry Leanne Gemma Katie "
             "Zoe Amy Laura Natalie Stephanie Alexandra Josephine Frances Theresa Rosemary Jan Kathryn Caitlin Mia Mya Poppy",
    },
    "irish": {
        "m": "Sean Patrick Declan Ciaran Liam Conor Eoin Padraig Seamus Cormac Niall Brendan Kieran Donal Fergal Ronan "
             "Aidan Aiden Oisin Cian Darragh Colm Eamon Diarmuid Fintan Michael John Thomas Kevin Martin Francis Dermot",
        "f": "Siobhan Aoife Niamh Ciara Saoirse Roisin Orla Sinead Grainne Aisling Caoimhe Deirdre Maeve Eilish Bridget "
             "Mairead Fiona Nuala Clodagh Mary Catherine Margaret Kathleen Anne Sheila Eileen Noreen Maureen Colleen",
    },
    "polish": {
        "m": "Piotr Krzysztof Tomasz Andrzej Paweł Michał Marcin Jakub Łukasz Wojciech Mateusz Marek Grzegorz Adam "
             "Kamil Dawid Jan Stanisław Zbigniew Jerzy Rafał Bartosz Aleksander Szymon Mikołaj Józef Tadeusz Kacper",
        "f": "Anna Katarzyna Małgorzata Agnieszka Barbara Ewa Krystyna Magdalena Joanna Aleksandra Monika Zofia Marta "
             "Beata Dorota Justyna Karolina Natalia Weronika Julia Zuzanna Halina Elżbieta Jadwiga Urszula Iwona",
    },
    "south_asian": {
        "m": "Mohammed Muhammad Ali Ahmed Hassan Imran Rajesh Sanjay Amit Vikram Arjun Rahul Harpreet Gurpreet Sandeep "
             "Kamran Tariq Bilal Usman Zain Ayaan Rohan Aarav Vivek Suresh Ramesh Mahesh Anil Sunil Farhan Yusuf Ibrahim",
        "f": "Fatima Aisha Ayesha Priya Anjali Sunita Neha Pooja Zainab Maryam Amina Nadia Shabana Rukhsana Simran "
             "Harjit Manpreet Kiran Deepa Lakshmi Sana Hina Noor Sofia Anaya Riya Meera Kavita Rani Parveen Nasreen",
    },
    "hispanic": {
        "m": "José Juan Carlos Luis Miguel Francisco Alejandro Javier Antonio Manuel Jesús Pedro Diego Enrique Rafael "
             "Fernando Ricardo Sergio Jorge Eduardo Alberto Pablo Raúl Andrés Ignacio Santiago Mateo",
        "f": "María Carmen Ana Lucía Isabel Guadalupe Rosa Elena Laura Marta Sofía Paula Cristina Pilar Teresa Dolores "
             "Mercedes Beatriz Raquel Alicia Adriana Gabriela Valentina Camila Inés Consuelo",
    },
    "west_african": {
        "m": "Oluwaseun Olumide Chukwuemeka Adebayo Oluwatobi Babatunde Chinedu Emeka Kwame Kofi Kwabena Yaw Ifeanyi "
             "Obinna Tunde Femi Segun Ayodele Nnamdi Uchenna Godwin Samuel Emmanuel Daniel Joseph",
        "f": "Ngozi Chiamaka Adaeze Funmilayo Folake Oluwakemi Abimbola Temitope Yetunde Akosua Ama Abena Efua Chioma "
             "Nneka Ifeoma Blessing Precious Esther Grace Comfort Mercy Joy Adwoa",
    },
}

SURNAMES = {
    "english": "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans Walker White Roberts "
               "Green Hall Wood Jackson Clarke Harris Lewis Martin Cooper King Baker Turner Hill Moore Ward Morris Clark "
               "Harrison Scott Young Mitchell Watson Allen Hughes Lee Edwards Parker Bennett Carter Phillips Shaw Cook "
               "Richardson Marshall Bailey Collins Webb Mason Hunt Holmes Palmer Mills Barnes Knight Lloyd Butler Russell "
               "Fisher Stevens Simpson Chapman Matthews Ellis Pearson Fletcher Atkinson Dixon Gibson Booth Hudson Lawrence "
               "Hartley Ainsworth Pickering Thwaite Leadbetter Cartwright Sowerby Pilkington Greenhalgh Fothergill Smyth "
               "Thomson Philips Stephens Clerk Cox Fox Day Gray Grey Reid Read Reed",
    "irish": "Murphy Kelly O'Sullivan Walsh O'Brien Byrne Ryan O'Connor O'Neill Doyle McCarthy Gallagher Doherty Kennedy "
             "Lynch Murray Quinn Moore McLoughlin Carroll Connolly Daly Connell McDonagh Brennan Burke Fitzgerald "
             "MacNamara McNamara Kavanagh Flanagan Dunne Nolan Keane Hennessy Costello",
    "polish": "Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański Woźniak Dąbrowski "
              "Kozłowski Jankowski Mazur Kwiatkowski Krawczyk Piotrowski Grabowski Pawłowski Michalski Nowakowski "
              "Adamczyk Dudek Zając Wieczorek Jabłoński Król Majewski Olszewski Jaworski",
    "south_asian": "Khan Ahmed Ali Hussain Patel Shah Singh Kaur Sharma Iqbal Rahman Begum Malik Chaudhry Akhtar Mahmood "
                   "Qureshi Gupta Kumar Mistry Parmar Chauhan Bibi Rashid Aziz Siddiqui Sheikh Mirza Nair Reddy Das",
    "hispanic": "García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín Jiménez Ruiz Hernández "
                "Díaz Moreno Álvarez Muñoz Romero Alonso Gutiérrez Navarro Torres Domínguez Vázquez Ramos",
    "west_african": "Okafor Adeyemi Okonkwo Mensah Owusu Boateng Adebayo Oyelaran Nwosu Eze Obi Asante Osei Danso "
                    "Ogunleye Afolabi Balogun Chukwu Okeke Ibe Agyeman Appiah Bello Oladipo Adewale",
}

# name -> forms its bearer writes (short forms, diminutives, spellings), as real people use them.
NICKNAMES = {
    "William": ["Bill", "Will", "Billy", "Liam"], "Robert": ["Rob", "Bob", "Bobby", "Robbie", "Bert"],
    "Richard": ["Rich", "Dick", "Rick", "Richie"], "Thomas": ["Tom", "Tommy"], "James": ["Jim", "Jimmy", "Jamie"],
    "John": ["Jack", "Johnny"], "Jonathan": ["Jon", "Jonny"], "Michael": ["Mike", "Mick", "Mickey", "Mikey"],
    "David": ["Dave", "Davy"], "Christopher": ["Chris", "Kit"], "Andrew": ["Andy", "Drew"], "Stephen": ["Steve", "Stevie"],
    "Daniel": ["Dan", "Danny"], "Matthew": ["Matt"], "Anthony": ["Tony", "Ant"], "Edward": ["Ed", "Eddie", "Ted", "Ned"],
    "Benjamin": ["Ben", "Benny"], "Samuel": ["Sam", "Sammy"], "Joseph": ["Joe", "Joey"], "Charles": ["Charlie", "Chas", "Chuck"],
    "Oliver": ["Ollie"], "Harry": ["Haz"], "Henry": ["Harry", "Hal"], "Alexander": ["Alex", "Sandy", "Xander"],
    "Nicholas": ["Nick", "Nicky"], "Timothy": ["Tim", "Timmy"], "Philip": ["Phil", "Pip"], "Kenneth": ["Ken", "Kenny"],
    "Raymond": ["Ray"], "Leonard": ["Len", "Lenny"], "Frederick": ["Fred", "Freddie", "Freddy"], "Albert": ["Bert", "Al"],
    "Arthur": ["Art", "Artie"], "Ernest": ["Ernie"], "Harold": ["Harry", "Hal"], "Walter": ["Walt", "Wally"],
    "Stanley": ["Stan"], "Nathan": ["Nate", "Nat"], "Gareth": ["Gaz", "Gary"], "Gary": ["Gaz"], "Stuart": ["Stu"],
    "Theo": ["Teddy"], "Archie": ["Arch"], "Callum": ["Cal"], "Lewis": ["Lew"], "Ethan": ["Eth"],
    "Elizabeth": ["Liz", "Beth", "Lizzie", "Betty", "Eliza", "Libby"], "Margaret": ["Maggie", "Peggy", "Meg", "Madge", "Rita"],
    "Susan": ["Sue", "Susie"], "Catherine": ["Cathy", "Kate", "Katie", "Cath", "Kay"], "Kathryn": ["Kath", "Kathy", "Kate"],
    "Jennifer": ["Jen", "Jenny"], "Rebecca": ["Becky", "Becca", "Bex"], "Emma": ["Em", "Emmy"], "Charlotte": ["Charlie", "Lottie"],
    "Victoria": ["Vicky", "Tori"], "Helen": ["Nell"], "Mary": ["Molly", "Polly", "May"], "Patricia": ["Pat", "Patsy", "Trish"],
    "Deborah": ["Debbie", "Deb"], "Nicola": ["Nicky", "Nic"], "Joanne": ["Jo"], "Louise": ["Lou"], "Amanda": ["Mandy"],
    "Michelle": ["Shell", "Chelle"], "Kimberly": ["Kim"], "Samantha": ["Sam", "Sammy"], "Hannah": ["Han"],
    "Abigail": ["Abby", "Gail"], "Eleanor": ["Ellie", "Nora", "Nell"], "Alice": ["Ali"], "Florence": ["Flo", "Florrie"],
    "Evelyn": ["Evie", "Eve"], "Dorothy": ["Dot", "Dotty", "Dolly"], "Barbara": ["Barb", "Babs"], "Christine": ["Chris", "Chrissie"],
    "Gillian": ["Gill", "Jill"], "Stephanie": ["Steph"], "Alexandra": ["Alex", "Lexi", "Sandra"], "Josephine": ["Jo", "Josie"],
    "Frances": ["Fran", "Frankie"], "Theresa": ["Tess", "Terri"], "Rosemary": ["Rosie", "Rose"], "Natalie": ["Nat"],
    "Jessica": ["Jess", "Jessie"], "Laura": ["Laurie"], "Caitlin": ["Cait", "Katie"], "Amelia": ["Millie", "Amy"],
    "Olivia": ["Liv", "Livvy"], "Sophie": ["Soph"], "Gemma": ["Gem"], "Joan": ["Joanie"],
    "Patrick": ["Pat", "Paddy"], "Francis": ["Frank", "Frankie"], "Seamus": ["Shay"], "Bridget": ["Bridie", "Biddy"],
    "Kathleen": ["Kath", "Kathy", "Katie"], "Siobhan": ["Shiv"], "Padraig": ["Paddy", "Pat"], "Eamon": ["Eamonn"],
    "Diarmuid": ["Dermot"], "Declan": ["Dec"], "Maureen": ["Mo"], "Eileen": ["Eily"],
    "Piotr": ["Piotrek"], "Krzysztof": ["Krzysiek", "Chris"], "Tomasz": ["Tomek", "Tom"], "Andrzej": ["Andrzejek", "Andy"],
    "Paweł": ["Pawel"], "Michał": ["Michal", "Michael"], "Jakub": ["Kuba", "Jacob"], "Łukasz": ["Lukasz", "Luke"],
    "Wojciech": ["Wojtek"], "Mateusz": ["Matt"], "Grzegorz": ["Grzesiek", "Greg"], "Aleksander": ["Olek", "Alex"],
    "Stanisław": ["Stasiek", "Stan"], "Józef": ["Józek", "Joe"], "Małgorzata": ["Gosia", "Małgosia"], "Katarzyna": ["Kasia", "Kate"],
    "Agnieszka": ["Aga", "Agnes"], "Magdalena": ["Magda"], "Joanna": ["Asia", "Joasia"], "Aleksandra": ["Ola", "Alex"],
    "Zofia": ["Zosia"], "Elżbieta": ["Ela", "Beata"], "Weronika": ["Wera"], "Zuzanna": ["Zuzia", "Susan"],
    "Mohammed": ["Mohammad", "Mohamed", "Muhammad", "Mo"], "Muhammad": ["Mohammed", "Mohd", "Mo"], "Ibrahim": ["Ibby"],
    "Rajesh": ["Raj"], "Vikram": ["Vik", "Vicky"], "Harpreet": ["Harry", "Preet"], "Gurpreet": ["Gary", "Guri"],
    "Sandeep": ["Sandy", "Sunny"], "Kamran": ["Kam"], "Farhan": ["Fazz"], "Yusuf": ["Yousaf", "Joseph"],
    "Ayesha": ["Aisha"], "Aisha": ["Ayesha"], "Fatima": ["Fatma"], "Priya": ["Pri"], "Lakshmi": ["Lucky"],
    "José": ["Pepe", "Jose"], "Francisco": ["Paco", "Pancho", "Frank"], "Guadalupe": ["Lupe"], "Jesús": ["Chuy", "Jesus"],
    "Alejandro": ["Alex", "Ale"], "Enrique": ["Quique", "Henry"], "Antonio": ["Toni", "Tony"], "Manuel": ["Manolo", "Manny"],
    "Ignacio": ["Nacho"], "Dolores": ["Lola"], "Mercedes": ["Merche"], "Consuelo": ["Chelo"], "Concepción": ["Concha"],
    "María": ["Maria", "Mari"], "Isabel": ["Isa", "Bel"], "Rafael": ["Rafa"], "Eduardo": ["Edu", "Eddie"],
    "Oluwaseun": ["Seun"], "Olumide": ["Mide"], "Chukwuemeka": ["Emeka"], "Oluwatobi": ["Tobi", "Toby"], "Adebayo": ["Bayo"],
    "Babatunde": ["Tunde"], "Oluwakemi": ["Kemi"], "Funmilayo": ["Funmi"], "Abimbola": ["Bimbo", "Bola"],
    "Temitope": ["Tope", "Temi"], "Ifeanyi": ["Ify"], "Chiamaka": ["Amaka"], "Emmanuel": ["Emma", "Manny"],
}

# Twins' names: a parent's pick that sounds alike (a fraction of twins get one of these pairs).
SIMILAR_TWIN_NAMES = [
    ("Jon", "Jan", "m", "f"), ("Aidan", "Aiden", "m", "m"), ("Mia", "Mya", "f", "f"), ("Lily", "Lola", "f", "f"),
    ("Ryan", "Rhian", "m", "f"), ("Daniel", "Danielle", "m", "f"), ("Ella", "Ellie", "f", "f"), ("Jake", "Jade", "m", "f"),
    ("Harry", "Hattie", "m", "f"), ("Amir", "Amira", "m", "f"), ("Leo", "Leah", "m", "f"), ("Sam", "Sian", "m", "f"),
    ("Mark", "Mary", "m", "f"), ("Ian", "Iain", "m", "m"), ("Maya", "Mara", "f", "f"), ("Jacob", "Jacub", "m", "m"),
    ("Tomasz", "Tamara", "m", "f"), ("Arjun", "Arun", "m", "m"), ("Kofi", "Kojo", "m", "m"), ("Paula", "Pola", "f", "f"),
]

STREETS = [
    "Mill", "Church", "Station", "High", "Victoria", "Park", "Queens", "Kings", "Manor", "Chapel", "Oak", "Elm", "Ash",
    "Beech", "Willow", "Cedar", "Hawthorn", "Meadow", "Orchard", "Brook", "River", "Bridge", "School", "Green", "Hill",
    "Castle", "Abbey", "Albert", "Alexandra", "York", "Windsor", "Grange", "Farm", "Fox", "Lark", "Heath", "Moor", "Dale",
    "Poplar", "Rowan", "Sycamore", "Chestnut", "Laburnum", "Lime", "Holly", "Ivy", "Primrose", "Bluebell", "Clover",
    "Heather", "Kingsway", "Nelson", "Wellington", "Cromwell", "Gladstone", "Peel", "Cavendish", "Stanley", "Derby",
    "Lancaster", "Mulberry", "Juniper", "Fern", "Thornton", "Ashby", "Carlton", "Belmont", "Fairfield", "Highfield",
]

STREET_TYPES = {  # full form -> the abbreviations forms use
    "Street": ["St", "St.", "Str"], "Road": ["Rd", "Rd."], "Avenue": ["Ave", "Av"], "Lane": ["Ln", "La"],
    "Close": ["Cl"], "Drive": ["Dr", "Drv"], "Crescent": ["Cres", "Cresc"], "Terrace": ["Terr", "Ter"], "Way": ["Wy"],
    "Gardens": ["Gdns"], "Grove": ["Gr", "Gro"], "Place": ["Pl"],
}

TOWN = "Millbrook"
