"""Standard camera-trap formats out of wildcam: MegaDetector batch output (``wildcam detect``,
``wildcam eval --md-json``) and Camtrap DP packages exported from the gateway, with the human
verdicts given on the gateway's review page."""
