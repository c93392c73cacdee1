// ZKServer
