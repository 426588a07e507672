"""Reference lists the sample network draws from: products, SOPs, root-cause codes, categories."""

from __future__ import annotations

import zlib

import numpy as np

PRODUCTS = ("CD19 CAR-T", "BCMA CAR-T")
PRODUCT_SHARE = (0.6, 0.4)
PRODUCT_CODE = {"CD19 CAR-T": "CD19", "BCMA CAR-T": "BCMA"}

# Release specification per product (identical for both products here): cqa -> (lower, upper, unit).
SPECIFICATION = {
    "viability_pct": (70.0, None, "%"),
    "transduction_pct": (15.0, None, "%"),
    "cd3_pct": (80.0, None, "%"),
    "vcn": (None, 5.0, "copies/cell"),
    "dose": (0.6, 6.0, "x10^8 CAR+ viable T cells"),
    "endotoxin_eu_ml": (None, 5.0, "EU/mL"),
}
CQAS = tuple(SPECIFICATION)

# Controlled SOPs: id -> (title, how executions are counted, executions per unit).
# unit 'batch' = per batch started, 'day' / 'week' / 'month' = per calendar period at an active site.
SOPS: dict[str, tuple[str, str, float]] = {
    "SOP-001": ("Gowning for grade A/B areas", "day", 6),
    "SOP-002": ("Cleanroom cleaning and disinfection", "day", 1),
    "SOP-003": ("Isolator decontamination (VHP cycle)", "week", 2),
    "SOP-004": ("Environmental monitoring: viable air and surface sampling", "day", 1),
    "SOP-005": ("Non-viable particle monitoring", "day", 1),
    "SOP-006": ("Differential pressure and HVAC alarm response", "month", 2),
    "SOP-007": ("Receipt of apheresis material and chain of identity", "batch", 1),
    "SOP-008": ("T-cell selection and activation", "batch", 1),
    "SOP-009": ("Lentiviral transduction", "batch", 1),
    "SOP-010": ("Cell expansion in closed bioreactor", "batch", 1),
    "SOP-011": ("Harvest, formulation and fill", "batch", 1),
    "SOP-012": ("Cryopreservation with controlled-rate freezer", "batch", 1),
    "SOP-013": ("Labelling and chain-of-identity verification", "batch", 2),
    "SOP-014": ("Batch record completion and good documentation practice", "batch", 1),
    "SOP-015": ("Line clearance", "batch", 3),
    "SOP-016": ("Material receipt and release", "week", 3),
    "SOP-017": ("Reagent and consumable expiry control", "week", 1),
    "SOP-018": ("Equipment calibration", "month", 6),
    "SOP-019": ("Preventive maintenance of BSCs and isolators", "month", 2),
    "SOP-020": ("Cell count and viability assay", "batch", 3),
    "SOP-021": ("Flow cytometry for CAR expression and CD3", "batch", 1),
    "SOP-022": ("Vector copy number by ddPCR", "batch", 1),
    "SOP-023": ("Bacterial endotoxin test (LAL)", "batch", 1),
    "SOP-024": ("Sterility and mycoplasma sampling", "batch", 1),
    "SOP-025": ("Out-of-specification investigation", "month", 0.5),
    "SOP-026": ("Deviation management", "month", 3),
    "SOP-027": ("CAPA management", "month", 1),
    "SOP-028": ("Change control", "month", 2),
    "SOP-029": ("Shipping of cryopreserved product", "batch", 1),
    "SOP-030": ("Training and qualification of operators", "month", 4),
}

# Root-cause codes. The prefix gives the 6M category; the SOPs are the ones a code is usually
# raised against. Weights are the network's ordinary mix for batch (in-process) and facility
# (non-batch) deviations.
#   code: (category, description, SOPs, batch weight, facility weight)
ROOT_CAUSES: dict[str, tuple[str, str, tuple[str, ...], float, float]] = {
    "DOC-ENTRY": ("method", "Batch record entry error (GDP)", ("SOP-014",), 2, 0),
    "DOC-SOP-UNCLEAR": ("method", "SOP step ambiguous or incomplete",
                        ("SOP-008", "SOP-009", "SOP-010", "SOP-011", "SOP-015"), 6, 1),
    "DOC-VERSION": ("method", "Superseded document version in use", ("SOP-013", "SOP-014", "SOP-020"), 2, 1),
    "MTH-LINE-CLEARANCE": ("method", "Line clearance incomplete", ("SOP-015",), 4, 0),
    "MTH-PROCESS-PARAM": ("method", "Process parameter outside range", ("SOP-009", "SOP-010"), 5, 0),
    "TRN-GAP": ("people", "Task performed before training complete", ("SOP-030", "SOP-011"), 4, 1),
    "PPL-ASEPTIC": ("people", "Aseptic technique lapse", ("SOP-001", "SOP-008", "SOP-011"), 5, 1),
    "PPL-LABEL": ("people", "Label or identity check missed", ("SOP-013",), 4, 0),
    "PPL-HANDOVER": ("people", "Shift handover information lost", ("SOP-010", "SOP-012"), 3, 1),
    "EQP-CAL": ("machine", "Instrument calibration overdue or out of tolerance", ("SOP-018",), 2, 5),
    "EQP-FAIL": ("machine", "Equipment failure during use", ("SOP-019", "SOP-010"), 3, 5),
    "EQP-SOFTWARE": ("machine", "Equipment software or configuration error", ("SOP-012", "SOP-010"), 2, 2),
    "MAT-SUPPLIER": ("material", "Supplier material quality", ("SOP-016",), 2, 4),
    "MAT-EXPIRY": ("material", "Expired or wrong-lot material issued", ("SOP-017",), 2, 3),
    "MAT-APHERESIS": ("material", "Incoming apheresis material issue", ("SOP-007",), 4, 0),
    "ENV-HVAC": ("environment", "HVAC control failure", ("SOP-006",), 0, 3),
    "ENV-PARTICLES": ("environment", "Particle count above limit", ("SOP-005",), 0, 2),
    "ENV-PRESSURE": ("environment", "Pressure cascade lost", ("SOP-006",), 0, 2),
    "ENV-CLEANING": ("environment", "Cleaning or decontamination not effective", ("SOP-002", "SOP-003"), 1, 3),
    "MSR-ASSAY": ("measurement", "Assay invalid or failed system suitability",
                  ("SOP-020", "SOP-021", "SOP-022", "SOP-023"), 5, 1),
    "MSR-SAMPLE": ("measurement", "Sampling error", ("SOP-024", "SOP-004"), 3, 2),
    "MSR-LAB-ERROR": ("measurement", "Analyst error in QC testing", ("SOP-020", "SOP-021"), 3, 0),
}
CODES = tuple(ROOT_CAUSES)
CATEGORY = {code: v[0] for code, v in ROOT_CAUSES.items()}
# Excursion-sourced deviations: parameter -> root-cause code.
EXCURSION_CODE = {"temperature": "ENV-HVAC", "humidity": "ENV-HVAC", "diff_pressure": "ENV-PRESSURE",
                  "particles_0_5": "ENV-PARTICLES", "particles_5_0": "ENV-PARTICLES"}

# Human-factor tag probabilities per category: (cognitive_load, communication, environment, none).
HUMAN_FACTORS = ("cognitive_load", "communication", "environment", "none")
HUMAN_FACTOR_P = {
    "people": (0.45, 0.30, 0.10, 0.15),
    "method": (0.30, 0.30, 0.05, 0.35),
    "machine": (0.05, 0.05, 0.05, 0.85),
    "material": (0.05, 0.10, 0.00, 0.85),
    "environment": (0.00, 0.05, 0.15, 0.80),
    "measurement": (0.20, 0.10, 0.05, 0.65),
}

NEAR_MISS_CATEGORIES = ("chain_of_identity", "labelling", "aseptic_technique", "documentation",
                        "equipment", "material", "environment")
TEAMS = ("Manufacturing", "Quality Control", "Facilities & EM")
TRAINING_MODULES = ("Aseptic gowning qualification", "Isolator operation", "CAR-T manufacturing process",
                    "GDP and batch records", "Environmental monitoring", "Cell count and viability assay")
ACK_COMMENTS = ("Reviewed trend; values returned within limits.", "Door held open during material transfer.",
                "Sensor checked against reference; reading confirmed.", "Facilities informed; HVAC checked.",
                "Cleaning in progress; counts returned within limits.")
ACTION_ACK_COMMENT = "Action limit exceeded: deviation raised, product impact under assessment."


def rng_for(seed: int, *keys: str | int) -> np.random.Generator:
    """An independent random stream per (seed, purpose, ...): adding a stream never shifts another."""
    parts = [int(seed) % 2**63] + [k if isinstance(k, int) else zlib.crc32(k.encode()) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(parts))
