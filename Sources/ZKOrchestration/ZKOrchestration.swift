// ZKOrchestration
