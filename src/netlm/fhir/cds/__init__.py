"""CDS Hooks 2.0.1 service: netlm's strategy on patient-view and an order check on order-select.

`routes.router` is the FastAPI router (`/cds-services`), `routes.add_cors` its CORS policy and
`routes.cds_store(app).list_feedback(case_id)` what clinicians did with the cards of a case.
"""
