"""A deterministic synthetic shop for the embedded demo.

Users shop for *missions* (a camping trip, a new baby, a home office, ...). A mission's products are bought
together although their texts are not alike (a tent and a headlamp, a printer and its toner), while products
that read alike belong to different missions (a headlamp, a desk lamp, a night light and a bike light are all
lamps). A sentence-Transformer trained for semantic similarity ranks by product type; the interactions rank
by mission. That is the gap beeFormer closes. Item texts never name the mission: it must be learned from
who bought what. Everything here is invented; it demonstrates the method, not any real catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# mission -> products (name, description). Descriptions speak of the product type only.
MISSIONS: dict[str, list[tuple[str, str]]] = {
    "camping": [
        ("headlamp", "a bright LED lamp with an adjustable beam and a rechargeable battery"),
        ("dome tent", "a two-person shelter with aluminium poles and a waterproof rain fly"),
        ("sleeping bag", "a mummy-shaped bag filled with synthetic insulation, rated to minus five degrees"),
        ("camp stove", "a compact gas burner with a folding pot support and piezo ignition"),
        ("water filter", "a hollow-fibre filter that removes bacteria and protozoa from water"),
        ("insect repellent", "a spray with twenty percent icaridin that keeps mosquitoes and ticks away"),
        ("folding chair", "a lightweight chair with a steel frame that folds flat"),
        ("dry bag", "a roll-top sack made of coated nylon that keeps its contents dry"),
    ],
    "home office": [
        ("desk lamp", "a bright LED lamp with an adjustable arm and a dimmable warm light"),
        ("ergonomic office chair", "a chair with lumbar support, adjustable armrests and a mesh back"),
        ("computer monitor", "a twenty-seven inch screen with a high resolution panel"),
        ("wireless keyboard", "a slim keyboard with quiet keys that connects over Bluetooth"),
        ("webcam", "a full HD camera with a built-in microphone that clips onto a screen"),
        ("laser printer", "a monochrome printer that prints thirty pages per minute"),
        ("toner cartridge", "a black toner refill that yields three thousand pages"),
        ("cable organiser", "a set of clips and sleeves that tidy up loose wires"),
    ],
    "new baby": [
        ("night light", "a soft LED lamp with a dimmable warm glow and a timer"),
        ("wooden crib", "a bed with slatted sides and an adjustable mattress height"),
        ("diapers", "a pack of disposable nappies with a wetness indicator"),
        ("baby monitor", "a camera with night vision and a handheld screen with two-way audio"),
        ("bottle warmer", "an electric heater that warms milk to body temperature"),
        ("stroller", "a pushchair with a reclining seat, a canopy and a storage basket"),
        ("rocking chair", "a chair with curved rockers and a padded cushion"),
        ("wet wipes", "a pack of fragrance-free moist cleaning tissues"),
    ],
    "coffee": [
        ("espresso machine", "a pump machine with fifteen bar pressure and a steam wand"),
        ("burr grinder", "a grinder with conical burrs and forty grind settings"),
        ("milk frother", "a handheld whisk that foams milk in seconds"),
        ("coffee beans", "a one kilogram bag of medium roast arabica beans"),
        ("travel mug", "an insulated steel bottle with a leak-proof lid that keeps drinks hot"),
        ("descaling tablets", "tablets that dissolve limescale inside appliances"),
        ("digital scale", "a precise scale with a timer that weighs to a tenth of a gram"),
        ("pour-over kettle", "a kettle with a gooseneck spout and temperature control"),
    ],
    "fitness": [
        ("yoga mat", "a six millimetre non-slip mat with a carrying strap"),
        ("adjustable dumbbells", "a pair of weights that adjust from two to twenty kilograms"),
        ("protein powder", "a tub of whey powder with twenty-five grams of protein per serving"),
        ("sports water bottle", "a plastic bottle with a flip straw and a one litre capacity"),
        ("fitness tracker", "a wristband that counts steps, heart rate and sleep"),
        ("foam roller", "a firm cylinder of dense foam for massaging muscles"),
        ("gym bag", "a duffel bag with a shoe compartment and a shoulder strap"),
        ("wireless earbuds", "sweat-resistant earphones with a charging case"),
    ],
    "beach holiday": [
        ("sunscreen", "a water-resistant lotion with SPF fifty"),
        ("beach towel", "a large quick-drying towel made of microfibre"),
        ("sunglasses", "polarised glasses with UV400 lenses"),
        ("snorkel mask", "a full-face mask with an anti-fog lens and a dry-top snorkel"),
        ("beach umbrella", "a tilting parasol with a sand anchor"),
        ("flip-flops", "rubber sandals with a cushioned footbed"),
        ("cooler box", "an insulated box that keeps food cold for two days"),
        ("waterproof phone pouch", "a sealed transparent case with a neck strap"),
    ],
    "baking": [
        ("stand mixer", "a mixer with a tilting head, a dough hook and a five litre bowl"),
        ("bread flour", "a bag of strong white wheat flour"),
        ("baking sheet", "a non-stick aluminium tray with raised edges"),
        ("oven thermometer", "a dial gauge that hangs inside an oven"),
        ("cookie cutters", "a set of stainless steel shapes"),
        ("vanilla extract", "a bottle of pure extract made from vanilla pods"),
        ("piping bags", "reusable cone bags with six nozzles"),
        ("kitchen scale", "a flat electronic scale that weighs up to five kilograms"),
    ],
    "puppy": [
        ("dog bed", "a washable cushion with raised sides"),
        ("leash", "a two metre nylon lead with a padded handle"),
        ("chew toys", "a set of durable rubber toys"),
        ("puppy food", "a bag of dry kibble for growing dogs"),
        ("wire crate", "a foldable metal cage with a divider panel"),
        ("training treats", "small soft rewards made from chicken"),
        ("stain remover", "an enzyme spray that breaks down odours on carpets"),
        ("pet camera", "a camera with night vision and a treat dispenser you control from a phone"),
    ],
    "gardening": [
        ("garden lights", "solar LED lamps with a warm glow that switch on at dusk"),
        ("vegetable seeds", "a collection of tomato, lettuce and carrot seeds"),
        ("watering can", "a ten litre can with a long spout and a rose head"),
        ("pruning shears", "bypass secateurs with hardened steel blades"),
        ("gardening gloves", "gloves with thorn-proof palms and breathable backs"),
        ("compost", "a bag of peat-free multipurpose growing medium"),
        ("garden hose", "a thirty metre expandable hose with a spray nozzle"),
        ("kneeling pad", "a thick foam cushion that protects knees"),
    ],
    "skiing": [
        ("ski goggles", "goggles with an anti-fog double lens and a wide strap"),
        ("thermal base layer", "a merino wool top and leggings that wick moisture"),
        ("hand warmers", "air-activated heat packs that last ten hours"),
        ("ski helmet", "a helmet with a hard shell, vents and ear pads"),
        ("ski socks", "knee-high socks with padded shins"),
        ("lip balm", "a stick of moisturising balm with SPF thirty"),
        ("ski wax", "a block of all-temperature glide wax"),
        ("insulated gloves", "waterproof gloves with a thermal lining"),
    ],
    "party": [
        ("party lights", "a string of colourful LED lamps with eight flashing modes"),
        ("balloons", "a pack of fifty latex balloons in mixed colours"),
        ("paper plates", "a pack of disposable plates and cups"),
        ("bluetooth speaker", "a portable speaker with deep bass and twelve hours of play"),
        ("birthday candles", "a box of twenty-four thin wax candles"),
        ("gift wrap", "three rolls of patterned paper with ribbon"),
        ("cake topper", "a glittery acrylic sign for a cake"),
        ("folding table", "a plastic table with steel legs that folds in half"),
    ],
    "cycling": [
        ("bike light", "a bright LED lamp with a USB rechargeable battery and a flashing mode"),
        ("cycling helmet", "a helmet with a hard shell, vents and a rear dial"),
        ("bike lock", "a hardened steel D-lock with two keys"),
        ("floor pump", "a pump with a pressure gauge and a dual valve head"),
        ("cycling gloves", "fingerless gloves with gel palm padding"),
        ("chain lube", "a bottle of wet lubricant for drivetrains"),
        ("bottle cage", "a lightweight aluminium holder for a drink bottle"),
        ("saddle bag", "a small pouch that straps under a seat"),
    ],
}

BRANDS = (
    "Acorn",
    "Bluebird",
    "Cobalt",
    "Dune",
    "Ember",
    "Fjord",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Meridian",
    "Nimbus",
    "Orchid",
    "Pine",
)
DETAILS = (
    "Available in black, grey and navy.",
    "Comes with a two-year warranty.",
    "Ships in recycled packaging.",
    "A customer favourite with thousands of reviews.",
    "Compact and easy to store.",
    "Made from durable materials.",
    "Lightweight and easy to carry.",
    "Simple to clean and maintain.",
)


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and behaviour of the synthetic shop."""

    n_users: int = 1000
    variants_per_product: int = 3
    min_items_per_user: int = 6
    max_items_per_user: int = 16
    second_mission_probability: float = 0.5
    noise_share: float = 0.1
    seed: int = 42


def generate(config: SyntheticConfig = SyntheticConfig()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Make (interactions, items) following the data contract; the same config gives the same data."""
    rng = np.random.default_rng(config.seed)
    items = _make_items(config, rng)
    mission_of_item = items["mission"].to_numpy()
    missions = np.array(list(MISSIONS))
    mission_weights = _zipf(len(missions), 0.6, rng)
    # Within a mission, a few products are bestsellers.
    item_weights = np.empty(len(items))
    for mission in missions:
        members = np.flatnonzero(mission_of_item == mission)
        item_weights[members] = _zipf(len(members), 0.8, rng)

    rows_user: list[np.ndarray] = []
    rows_item: list[np.ndarray] = []
    for user in range(config.n_users):
        chosen = [rng.choice(missions, p=mission_weights)]
        if rng.random() < config.second_mission_probability:
            chosen.append(rng.choice(missions, p=mission_weights))
        pool = np.flatnonzero(np.isin(mission_of_item, chosen))
        n_items = int(rng.integers(config.min_items_per_user, config.max_items_per_user + 1))
        n_noise = int(rng.binomial(n_items, config.noise_share))
        n_mission = min(n_items - n_noise, len(pool))
        p = item_weights[pool] / item_weights[pool].sum()
        picked = rng.choice(pool, size=n_mission, replace=False, p=p)
        noise = rng.choice(len(items), size=n_noise, replace=False)
        user_items = np.unique(np.concatenate([picked, noise]))
        rows_user.append(np.full(len(user_items), user))
        rows_item.append(rng.permutation(user_items))

    users = np.concatenate(rows_user)
    item_index = np.concatenate(rows_item)
    interactions = pd.DataFrame(
        {
            "user_id": pd.Series(users).map("u{:04d}".format),
            "item_id": items["item_id"].to_numpy()[item_index],
            # Seconds since an arbitrary start: lets the demo also exercise the time split.
            "timestamp": np.sort(rng.integers(0, 365 * 86_400, size=len(users))),
        }
    )
    return interactions, items[["item_id", "text"]]


def _make_items(config: SyntheticConfig, rng: np.random.Generator) -> pd.DataFrame:
    records = []
    for mission, products in MISSIONS.items():
        for product, description in products:
            brands = rng.choice(BRANDS, size=config.variants_per_product, replace=False)
            details = rng.choice(DETAILS, size=config.variants_per_product, replace=False)
            for brand, detail in zip(brands, details, strict=True):
                text = f"{brand} {product}: {description}. {detail}"
                records.append({"mission": mission, "text": text})
    items = pd.DataFrame(records)
    items.insert(0, "item_id", [f"i{i:04d}" for i in range(len(items))])
    return items


def _zipf(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Probabilities proportional to 1/rank**exponent over a random order of n things."""
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return rng.permutation(weights / weights.sum())
