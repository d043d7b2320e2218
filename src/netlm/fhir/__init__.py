"""FHIR R4 in and out: a Bundle becomes a netlm.case/1, an assessment becomes FHIR resources.

The engine knows nothing of FHIR; this package only translates at the edge.
"""

from netlm.fhir.mapping import FhirImport, FhirMappingError, Unmapped, bundle_to_case

__all__ = ["FhirImport", "FhirMappingError", "Unmapped", "bundle_to_case"]
