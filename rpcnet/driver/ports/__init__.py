"""Network ports of a running network, split by concern: allocation per
forward mode (``allocate``), the device pool (``pool``), virtualport
merging (``virtualport``), QoS floors (``qos``), connection counts
(``usage``) and the bandwidth typed parameters (``params``)."""
