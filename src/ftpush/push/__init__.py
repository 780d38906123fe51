"""Push providers behind one protocol: log, APNs, FCM, webhook."""
