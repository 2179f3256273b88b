"""Free text: ticket subjects/bodies, NPS comments, search terms.

Templates contain commas, quotes and the odd line break on purpose: the
CSV writer must quote them and readers must cope.
"""

from __future__ import annotations

import numpy as np
import polars as pl

SEARCH_TERMS = [
    "summer dress", "running shoes", "kettle", "jeans", "winter coat", "garden chair", "hair dryer",
    "bluetooth speaker", "school shoes", "bedding set", "yoga mat", "air fryer", "kids pyjamas",
    "men's shirt", "lipstick", "plant pot", "headphones", "football", "duvet", "trainers size 9",
]

# (subject, body) per topic; {cat} / {city} are filled per ticket
TICKET_TOPICS = [
    ("Where is my order?", "Hi, I ordered a {cat} item over a week ago and the tracking still says \"label created\". Can you check, please?"),
    ("Refund not received", "I returned the parcel on the 3rd, got the confirmation email, but no refund yet. It's been 14 days."),
    ("Damaged item", "The {cat} item arrived damaged, the box was crushed and one part is broken.\nPhotos attached. I'd like a replacement."),
    ("Can't log in", "The site keeps saying \"invalid password\" even after I reset it twice. Using the app on my phone."),
    ("Change of address", "I've moved house, please update my address for future deliveries. My old address, in {city}, is no longer valid."),
    ("Loyalty points missing", "I shopped in the {city} store last weekend, scanned my card, but the points haven't shown up."),
    ("Unsubscribe", "Please stop sending me marketing emails, I have unsubscribed twice already!"),
    ("Complaint about store", "Very disappointed with the service at the {city} store, staff were rude and the queue was 30 minutes long."),
    ("Product question", "Is the {cat} range machine washable? The label says 30\u00b0C, the website says \"hand wash only\"."),
    ("Wrong item delivered", "I received the wrong size, ordered M, got XL. How do I swap it, and who pays for postage?"),
    ("Payment taken twice", "My card was charged twice for the same order, please refund the duplicate payment ASAP."),
    ("Delivery left outside", "Courier left my parcel outside in the rain, contents soaked. Not happy."),
]

NPS_COMMENTS = {
    "detractor": [
        "Delivery was late, again.", "Rude staff in the {city} store, won't be back.",
        "Refund took weeks, terrible service.", "Quality of the {cat} items has gone down, very disappointed.",
        "Website keeps crashing at checkout.", "Too expensive for what you get, sorry.",
        "Customer service never replied to my emails.", "Parcel arrived damaged, and the \"replacement\" too.",
    ],
    "passive": [
        "OK overall, delivery could be faster.", "Decent prices, but the app is clunky.",
        "Fine, nothing special.", "Good range of {cat}, checkout was slow.",
        "Staff helpful, store a bit messy.", "Returns process is OK, could be simpler.",
    ],
    "promoter": [
        "Great service, fast delivery!", "Love the {cat} range, will buy again.",
        "Staff in {city} were brilliant, really helpful.", "Easy returns, no fuss. 10/10",
        "Best prices around, and the loyalty points add up.", "Always reliable, recommended to friends & family.",
    ],
}


def fill(templates: list[str], pick: np.ndarray, cat: pl.Series, city: pl.Series) -> pl.Series:
    df = pl.DataFrame({"t": pl.Series(templates).gather(pick), "cat": cat, "city": city})
    return df.select(
        pl.col("t").str.replace_all("{cat}", pl.col("cat"), literal=True).str.replace_all("{city}", pl.col("city"), literal=True)
    ).to_series()
