// ZKReplication
