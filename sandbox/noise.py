"""The ways one real person's contact details drift between tools.

Every vendor projection of the sandbox world draws its copy of a person through
`noisy_contact`, so identity resolution is measured against realistic variation:
email case and surrounding whitespace, several phone formats, nicknames, typos.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the world imports its noise: the person is named here, not imported
    from sandbox.world import Person

# given name -> the short forms people sign up with
NICKNAMES: dict[str, tuple[str, ...]] = {
    "Robert": ("Bob", "Rob", "Bobby"),
    "William": ("Bill", "Will", "Billy"),
    "Elizabeth": ("Liz", "Beth", "Betsy"),
    "Katherine": ("Kate", "Katie", "Kathy"),
    "Margaret": ("Maggie", "Peggy", "Meg"),
    "Michael": ("Mike", "Mikey"),
    "Jennifer": ("Jen", "Jenny"),
    "Christopher": ("Chris",),
    "Jonathan": ("Jon",),
    "Alexander": ("Alex",),
    "Alexandra": ("Alex", "Sasha"),
    "Richard": ("Rick", "Dick", "Rich"),
    "Daniel": ("Dan", "Danny"),
    "Joseph": ("Joe", "Joey"),
    "Patricia": ("Pat", "Patty", "Trish"),
    "Samuel": ("Sam",),
    "Samantha": ("Sam",),
    "Thomas": ("Tom", "Tommy"),
    "Anthony": ("Tony",),
    "Rebecca": ("Becky", "Becca"),
    "Benjamin": ("Ben",),
    "Nicholas": ("Nick",),
    "Victoria": ("Vicky", "Tori"),
    "Deborah": ("Deb", "Debbie"),
    "Susan": ("Sue", "Suzy"),
    "Edward": ("Ed", "Eddie", "Ted"),
    "James": ("Jim", "Jimmy", "Jamie"),
    "Charles": ("Charlie", "Chuck"),
    "Andrew": ("Andy", "Drew"),
    "Timothy": ("Tim",),
    "Theodore": ("Teddy", "Theo"),
    "Francisco": ("Paco", "Pancho"),
    "José": ("Pepe",),
    "Dolores": ("Lola",),
    "Guillermo": ("Memo",),
}

PLAIN_GIVEN_NAMES = (
    "Aisha", "Amara", "Ana", "Andrés", "Bea", "Carmen", "Chen", "Darius", "Dmitri", "Eun-ji",
    "Fatima", "Grace", "Hana", "Ibrahim", "Imani", "Jamal", "Jia", "Juan", "Keisha", "Kwame",
    "Lakshmi", "Layla", "Lucía", "Malik", "María", "Mateo", "Mei", "Mohammed", "Nadia", "Naomi",
    "Noor", "Olu", "Omar", "Priya", "Quinn", "Ravi", "Rosa", "Sade", "Siobhán", "Sofia",
    "Tariq", "Thanh", "Valentina", "Wei", "Xochitl", "Yara", "Yusuf", "Zainab", "Zoë", "Łukasz",
    "Ahmed", "Brianna", "Camila", "DeShawn", "Esperanza", "Hiroshi", "Isabel", "Jorge", "Kai",
    "Leilani", "Marisol", "Niamh", "Oksana", "Paulo", "Renée", "Santiago", "Tomás", "Ursula",
)

GIVEN_NAMES = tuple(NICKNAMES) + PLAIN_GIVEN_NAMES

FAMILY_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Pérez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyễn", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "O'Brien", "Kowalski", "Müller",
    "Okafor", "Adeyemi", "Chen", "Wang", "Kim", "Park", "Singh", "Patel", "Khan", "Ali",
    "Cohen", "Levi", "Schwartz", "Johansson", "Novak", "Dubois", "Rossi", "Silva", "Santos",
    "Yamamoto", "Tanaka", "Haddad", "Mansour", "Ó Súilleabháin", "Van der Berg", "St. John",
    "Washington", "Jefferson", "Brooks", "Reyes", "Cruz", "Morales", "Ortiz", "Gutierrez",
    "Chavez", "Ramos", "Ruiz", "Alvarez", "Mendoza", "Castillo", "Jimenez", "Vasquez",
)

EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com",
                 "aol.com", "protonmail.com", "comcast.net", "riseup.net", "example.org")

# Philadelphia, Pittsburgh, NYC, Atlanta, Phoenix, Detroit, Milwaukee, Las Vegas, Denver, Oakland
AREA_CODES = ("215", "267", "412", "212", "718", "404", "602", "313", "414", "702", "303", "510")


@dataclass(slots=True, frozen=True)
class Contact:
    """A person's details as one tool holds them."""

    given_name: str
    family_name: str
    email: str | None
    phone: str | None
    postal_code: str | None


def format_phone(national_digits: str, rng: random.Random) -> str:
    """One of the formats people and tools write a US number in."""
    a, b, c = national_digits[:3], national_digits[3:6], national_digits[6:]
    style = rng.randrange(6)
    if style == 0:
        return f"({a}) {b}-{c}"
    if style == 1:
        return f"+1{a}{b}{c}"
    if style == 2:
        return f"{a}.{b}.{c}"
    if style == 3:
        return f"{a}-{b}-{c}"
    if style == 4:
        return f"1 {a} {b} {c}"
    return f"{a}{b}{c}"


def noisy_email(email: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.15:
        return email.upper()
    if roll < 0.35:
        local, domain = email.split("@", 1)
        return f"{local[:1].upper()}{local[1:]}@{domain.capitalize()}"
    if roll < 0.45:
        return f"  {email} "
    return email


def typo(name: str, rng: random.Random) -> str:
    """Swap two adjacent letters, as a hurried volunteer types."""
    if len(name) < 4:
        return name
    i = rng.randrange(1, len(name) - 2)
    return name[:i] + name[i + 1] + name[i] + name[i + 2:]


def noisy_given_name(given_name: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.25 and given_name in NICKNAMES:
        return rng.choice(NICKNAMES[given_name])
    if roll < 0.30:
        return given_name.lower()
    if roll < 0.33:
        return f" {given_name}"
    return given_name


def noisy_contact(
    person: Person,
    rng: random.Random,
    *,
    email_rate: float = 1.0,
    phone_rate: float = 0.7,
    postal_rate: float = 0.8,
) -> Contact:
    """A tool's copy of a person: usually recognisable, rarely identical."""
    family = typo(person.family_name, rng) if rng.random() < 0.02 else person.family_name
    if rng.random() < 0.05:
        family = family.upper()
    return Contact(
        given_name=noisy_given_name(person.given_name, rng),
        family_name=family,
        email=noisy_email(person.email, rng) if rng.random() < email_rate else None,
        phone=format_phone(person.phone, rng) if rng.random() < phone_rate else None,
        postal_code=person.postal_code if rng.random() < postal_rate else None,
    )
