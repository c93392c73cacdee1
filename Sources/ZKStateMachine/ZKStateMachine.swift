// ZKStateMachine
