"""Request and response bodies, with the examples Swagger shows."""
