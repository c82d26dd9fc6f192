"""The development tooling shared by the tests and the benchmarks: throw-away Kafka brokers
and the SMSC simulator. It lives beside the sources and is not in the wheel, so neither
``tests`` nor ``bench`` needs to import the other, and production imports neither."""
