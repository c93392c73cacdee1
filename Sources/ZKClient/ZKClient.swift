// ZKClient
