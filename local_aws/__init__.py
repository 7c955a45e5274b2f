"""local_aws: a docker-free local AWS runtime, moto for the API surface and real compute on top."""
