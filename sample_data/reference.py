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
FAMILIES = tuple(ROOT_CAUSES)
# The code an investigation records: family + specific cause (as an eQMS taxonomy's second level), so
# "the same root cause" means the same error, not the same broad family. The first cause of a family is
# the most common. DOC-ENTRY (the systemic story's code) stays one code.
SUB_CAUSES: dict[str, tuple[tuple[str, str], ...]] = {
    "DOC-SOP-UNCLEAR": (("STEP", "SOP step missing"), ("WORDING", "SOP wording ambiguous"),
                        ("CONFLICT", "SOP conflicts with the batch record"), ("FORM", "Form does not match the SOP")),
    "DOC-VERSION": (("COPY", "Superseded SOP copy at the point of use"), ("FORM", "Superseded form version used"),
                    ("TRAINING", "Revision effective before training completed")),
    "MTH-LINE-CLEARANCE": (("LABELS", "Previous batch's labels left in the area"),
                           ("MATERIAL", "Previous batch's material left in the area"),
                           ("CHECKLIST", "Line clearance checklist not completed")),
    "MTH-PROCESS-PARAM": (("CENTRIFUGE", "Centrifugation setting outside range"),
                          ("INCUBATION", "Incubation time outside range"), ("VOLUME", "Volume outside range"),
                          ("HOLD", "Hold time or temperature outside range"),
                          ("SEEDING", "Seeding density outside range")),
    "TRN-GAP": (("EXPIRED", "Qualification expired"), ("NEW-TASK", "New task before training"),
                ("READ-ONLY", "Read-and-understood only for a practical task")),
    "PPL-ASEPTIC": (("GLOVE", "Glove disinfection or breach"), ("TRANSFER", "Open transfer technique"),
                    ("GOWNING", "Gowning deviation"), ("BSC", "Item placement in the biosafety cabinet"),
                    ("MOVEMENT", "Rapid movement in grade A")),
    "PPL-LABEL": (("PATIENT-ID", "Patient identity double check missed"), ("PRINT", "Wrong label printed"),
                  ("BAG", "Bag label not verified")),
    "PPL-HANDOVER": (("STATUS", "Process status not handed over"), ("SAMPLE", "Pending sample not handed over"),
                     ("LOG", "Handover log incomplete")),
    "EQP-CAL": (("PIPETTE", "Pipette out of calibration"), ("BALANCE", "Balance out of calibration"),
                ("COUNTER", "Cell counter out of tolerance"), ("PROBE", "Temperature probe out of tolerance")),
    "EQP-FAIL": (("INCUBATOR", "Incubator alarm"), ("CENTRIFUGE", "Centrifuge fault"),
                 ("SEALER", "Tube sealer failure"), ("BIOREACTOR", "Bioreactor stopped")),
    "EQP-SOFTWARE": (("CONFIG", "Configuration changed outside change control"),
                     ("AUDIT-TRAIL", "Instrument audit trail not reviewed"), ("CLOCK", "Instrument clock wrong")),
    "MAT-SUPPLIER": (("COA", "Certificate of analysis missing or wrong"), ("DAMAGE", "Damaged on receipt"),
                     ("SPEC", "Reagent outside specification")),
    "MAT-EXPIRY": (("EXPIRED", "Expired material issued"), ("LOT", "Wrong lot issued"),
                   ("QUARANTINE", "Quarantined material issued")),
    "MAT-APHERESIS": (("TEMP", "Apheresis shipped outside temperature"), ("COI", "Chain of identity documents incomplete"),
                      ("LATE", "Apheresis received late"), ("LOW-COUNT", "Low cell count in apheresis")),
    "ENV-HVAC": (("CONTROL", "HVAC temperature control failure"), ("HUMIDITY", "Humidity control failure"),
                 ("HEPA", "HEPA filter integrity failure")),
    "ENV-PARTICLES": (("COUNT", "Particle count above limit"), ("SAMPLING", "Monitoring location missed")),
    "ENV-PRESSURE": (("CASCADE", "Pressure cascade lost"), ("DOOR", "Door held open")),
    "ENV-CLEANING": (("AGENT", "Wrong cleaning agent or dilution"), ("FREQUENCY", "Cleaning frequency missed"),
                     ("RESIDUE", "Residue after cleaning")),
    "MSR-ASSAY": (("SUITABILITY", "System suitability failed"), ("CONTROL", "Assay control out of range"),
                  ("REAGENT", "Assay reagent expired")),
    "MSR-SAMPLE": (("VOLUME", "Sample volume insufficient"), ("TIMING", "Sample taken at the wrong time"),
                   ("CONTAINER", "Wrong sample container")),
    "MSR-LAB-ERROR": (("CALCULATION", "Calculation error"), ("DILUTION", "Dilution error"),
                      ("TRANSCRIPTION", "Result transcription error")),
}
# Every recorded code -> (family, description).
CODE_INFO: dict[str, tuple[str, str]] = {
    family: (family, ROOT_CAUSES[family][1]) for family in FAMILIES if family not in SUB_CAUSES}
CODE_INFO |= {f"{family}-{suffix}": (family, text) for family, subs in SUB_CAUSES.items() for suffix, text in subs}
CODES = tuple(CODE_INFO)
CATEGORY = {code: ROOT_CAUSES[family][0] for code, (family, _text) in CODE_INFO.items()}
# Excursion-sourced deviations: parameter -> root-cause code.
EXCURSION_CODE = {"temperature": "ENV-HVAC-CONTROL", "humidity": "ENV-HVAC-HUMIDITY",
                  "diff_pressure": "ENV-PRESSURE-CASCADE", "particles_0_5": "ENV-PARTICLES-COUNT",
                  "particles_5_0": "ENV-PARTICLES-COUNT"}

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
