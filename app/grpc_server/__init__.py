"""The Open Inference Protocol over gRPC: a thin translator onto the same serving core as REST.

``server`` runs it beside uvicorn, ``service`` answers GRPCInferenceService's RPCs, ``tensors`` converts
protobuf tensors, ``interceptors`` add the API key, metrics and logs, ``status`` maps errors to codes.
"""
