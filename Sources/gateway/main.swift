import GatewayProxy
print(GatewayProxyModule.eventVersion())
