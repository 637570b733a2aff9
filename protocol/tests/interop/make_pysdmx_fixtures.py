"""Writes the pysdmx interoperability fixtures of datapact's SDMX structure readers.

pysdmx is an independent SDMX implementation. This script builds one data structure definition
(with its codelists and concepts) and one dataflow with pysdmx's own model, and writes them as
an SDMX-JSON 2.0 structure message and as an SDMX-ML 3.0 structure message. The Rust test
`protocol/tests/pysdmx_interop.rs` reads both files and checks that they give the same model.

Usage (from the repository root; the committed files were written by pysdmx 1.21.0, and the
output does not change from run to run, so `git diff --exit-code` after it shows whether a
newer pysdmx writes anything differently):

    python3 -m venv .venv-pysdmx
    .venv-pysdmx/bin/pip install 'pysdmx[json,xml]'
    .venv-pysdmx/bin/python protocol/tests/interop/make_pysdmx_fixtures.py protocol/tests/fixtures/pysdmx
    git diff --exit-code protocol/tests/fixtures/pysdmx
"""

import sys
from datetime import datetime, timezone
from pathlib import Path

from pysdmx.io import write_sdmx
from pysdmx.io.format import Format
from pysdmx.model import (
    Code,
    Codelist,
    Component,
    Components,
    Concept,
    ConceptScheme,
    Dataflow,
    DataStructureDefinition,
    DataType,
    Role,
)
from pysdmx.model.message import Header

AGENCY = "BPX"


def codelist(cl_id, name, codes):
    return Codelist(
        id=cl_id,
        name=name,
        agency=AGENCY,
        version="1.0",
        urn=f"urn:sdmx:org.sdmx.infomodel.codelist.Codelist={AGENCY}:{cl_id}(1.0)",
        items=[Code(id=code, name=label) for code, label in codes],
    )


CL_FREQ = codelist("CL_FREQ", "Frequency", [("A", "Annual"), ("Q", "Quarterly"), ("M", "Monthly")])
CL_AREA = codelist(
    "CL_AREA",
    "Reference area",
    [("THA", "Thailand"), ("MMR", "Myanmar"), ("KHM", "Cambodia"), ("LAO", "Lao PDR")],
)
CL_SEX = codelist("CL_SEX", "Sex", [("F", "Female"), ("M", "Male"), ("_T", "Total")])
CL_OBS_STATUS = codelist(
    "CL_OBS_STATUS", "Observation status", [("A", "Normal value"), ("E", "Estimated value")]
)
CL_UNIT = codelist("CL_UNIT", "Unit of measure", [("PS", "Persons")])


def concept(concept_id, name, codes=None, dtype=None):
    urn = f"urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept={AGENCY}:CS_MIG(1.0).{concept_id}"
    return Concept(id=concept_id, name=name, codes=codes, dtype=dtype, urn=urn)


CONCEPTS = ConceptScheme(
    id="CS_MIG",
    name="Migration concepts",
    agency=AGENCY,
    version="1.0",
    items=[
        concept("FREQ", "Frequency", CL_FREQ),
        concept("REF_AREA", "Reference area", CL_AREA),
        concept("SEX", "Sex", CL_SEX),
        concept("TIME_PERIOD", "Time period", dtype=DataType.PERIOD),
        concept("OBS_VALUE", "Observation value", dtype=DataType.INTEGER),
        concept("OBS_STATUS", "Observation status", CL_OBS_STATUS),
        concept("UNIT_MEASURE", "Unit of measure", CL_UNIT),
    ],
)
BY_ID = {c.id: c for c in CONCEPTS.items}


def component(component_id, role, required, codes=None, dtype=None, attachment=None):
    return Component(
        id=component_id,
        role=role,
        required=required,
        concept=BY_ID[component_id],
        local_codes=codes,
        local_dtype=dtype,
        attachment_level=attachment,
        local_enum_ref=codes.urn if codes else None,
    )


DSD = DataStructureDefinition(
    id="DSD_MIG_STOCK",
    name="Migrant stock",
    agency=AGENCY,
    version="1.0",
    components=Components(
        [
            component("FREQ", Role.DIMENSION, True, CL_FREQ),
            component("REF_AREA", Role.DIMENSION, True, CL_AREA),
            component("SEX", Role.DIMENSION, True, CL_SEX),
            component("TIME_PERIOD", Role.DIMENSION, True, dtype=DataType.PERIOD),
            component("OBS_VALUE", Role.MEASURE, False, dtype=DataType.INTEGER),
            component("OBS_STATUS", Role.ATTRIBUTE, False, CL_OBS_STATUS, attachment="O"),
            component(
                "UNIT_MEASURE", Role.ATTRIBUTE, True, CL_UNIT, attachment="FREQ,REF_AREA,SEX"
            ),
        ]
    ),
)

DATAFLOW = Dataflow(
    id="DF_MIG_STOCK",
    name="Migrant stock by sex",
    agency=AGENCY,
    version="1.0",
    structure="urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure=BPX:DSD_MIG_STOCK(1.0)",
)

# A fixed header, so regenerating the files changes nothing.
HEADER = Header(
    id="DATAPACT_INTEROP",
    prepared=datetime(2025, 1, 1, tzinfo=timezone.utc),
    test=True,
)


def main(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    artefacts = [CL_FREQ, CL_AREA, CL_SEX, CL_OBS_STATUS, CL_UNIT, CONCEPTS, DSD, DATAFLOW]
    for name, fmt in [
        ("structure.json", Format.STRUCTURE_SDMX_JSON_2_0_0),
        ("structure.xml", Format.STRUCTURE_SDMX_ML_3_0),
    ]:
        write_sdmx(artefacts, fmt, output_path=str(out / name), header=HEADER)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "protocol/tests/fixtures/pysdmx")
