"""Open311 GeoReport v2: other systems submit and read requests in a standard shape."""
