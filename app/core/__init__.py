"""The protocol-neutral core: servables (one per architecture), the model repository, the data plane.

Nothing in here knows HTTP, gRPC or any wire format. Front ends (app/api/) translate requests into
data-plane calls and the core's error kinds into their own statuses.
"""
