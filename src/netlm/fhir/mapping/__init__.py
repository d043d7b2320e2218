"""FHIR R4 Bundle -> netlm.case/1, by concept: the Bundle and its version, the Patient,
Conditions, Observations (with units and comparators), Procedures, medicines and the prior
therapies they make, and the assembly of the case. The code tables are in netlm.fhir.codes."""

from netlm.fhir.mapping.importer import bundle_to_case
from netlm.fhir.mapping.result import FhirImport, FhirMappingError, Unmapped

__all__ = ["FhirImport", "FhirMappingError", "Unmapped", "bundle_to_case"]
