"""Pure streaming parsers and writers of the customer file formats."""
